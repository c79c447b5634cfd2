using CsiDriver.NodeLink;
using CsiDriver.Replication;
using CsiDriver.Rpc;

namespace CsiDriver.Controller;

/// <summary>Everything `csidriver controller` is configured with.</summary>
public sealed record ControllerOptions
{
    /// <summary>CSI Identity, Controller and GroupController for the sidecars.</summary>
    public required string Endpoint { get; init; }

    /// <summary>csi-addons identity, volumegroup and replication; null: not served.</summary>
    public string? CsiAddonsEndpoint { get; init; }

    public required NodeLinkSettings NodeLink { get; init; }

    /// <summary>A node not renewed within this is down.</summary>
    public TimeSpan NodeTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Where the other cluster asks Locate; null: this cluster is no backup.</summary>
    public HostPort? SiteLinkAddress { get; init; }

    public SiteLinkTls? SiteLinkTls { get; init; }

    public string DriverName { get; init; } = Csi.DriverOptions.DefaultDriverName;

    public bool JsonLogs { get; init; }
}
