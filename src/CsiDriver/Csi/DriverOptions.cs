using CsiDriver.NodeLink;

namespace CsiDriver.Csi;

/// <summary>Everything `csidriver serve` is configured with.</summary>
public sealed record DriverOptions
{
    public const string DefaultDriverName = "formation.csi.dev";

    /// <summary>Topology key under which a volume's node is published; volumes live in the
    /// engine of the node that created them.</summary>
    public const string TopologyNodeKey = "topology.formation.csi.dev/node";

    public required string Endpoint { get; init; }

    public string? CsiAddonsEndpoint { get; init; }

    public required string NodeId { get; init; }

    public required string DataDirectory { get; init; }

    public string DriverName { get; init; } = DefaultDriverName;

    public bool JsonLogs { get; init; }

    /// <summary>Upper bound on the sum of provisioned capacities; null: only the overcommit
    /// ratio bounds it (see <see cref="Csi.ProvisioningBudget"/>).</summary>
    public long? CapacityLimitBytes { get; init; }

    public const double DefaultOvercommitRatio = 10;

    /// <summary>How many times the data file system's size (and its free space) volumes may be
    /// provisioned, thin as they are (see <see cref="Csi.ProvisioningBudget"/>).</summary>
    public double OvercommitRatio { get; init; } = DefaultOvercommitRatio;

    /// <summary>Where the engine's NBD server listens; the node attaches volumes through it.
    /// Null: <c>nbd.sock</c> in the data directory.</summary>
    public string? NbdEndpoint { get; init; }

    /// <summary>Unix socket of the session holder (`csidriver session-holder`) that keeps the
    /// node's FUSE sessions across csidriver restarts; null: none, so attachments end with
    /// this process.</summary>
    public string? SessionHolderSocket { get; init; }

    /// <summary>Staging and target paths must lie under this directory.</summary>
    public string KubeletDirectory { get; init; } = "/var/lib/kubelet";

    /// <summary>Reported by NodeGetInfo; 0 means no limit.</summary>
    public long MaxVolumesPerNode { get; init; }

    /// <summary>host:port where the site link (mutual TLS) is served; null: not served.</summary>
    public string? SiteLinkAddress { get; init; }

    /// <summary>PEM files of this site's link certificate, its key, and the CA peers must chain to.</summary>
    public string? SiteLinkCertificate { get; init; }

    public string? SiteLinkKey { get; init; }

    public string? SiteLinkAuthority { get; init; }

    /// <summary>This site's name on the link; null: the node id.</summary>
    public string? SiteId { get; init; }

    /// <summary>host:port the other site reaches this node's site link at (--site-link-advertise);
    /// null: <see cref="SiteLinkAddress"/>.</summary>
    public string? SiteLinkAdvertise { get; init; }

    /// <summary>The name peers' site-link certificates carry, checked instead of their address; null: the address.</summary>
    public string? SiteLinkServerName { get; init; }

    /// <summary>host:port of the cluster controller's node link; null: standalone (no controller).</summary>
    public string? ControllerAddress { get; init; }

    /// <summary>The node link: where this node serves it, the address the controller dials, and
    /// its mutual-TLS material (see <see cref="NodeLinkSettings"/>). Required with a controller.</summary>
    public NodeLinkSettings? NodeLink { get; init; }

    /// <summary>host:port where Prometheus metrics are served over HTTP at /metrics; null: not
    /// served (parsed by Metrics.MetricsAddress).</summary>
    public string? MetricsAddress { get; init; }
}
