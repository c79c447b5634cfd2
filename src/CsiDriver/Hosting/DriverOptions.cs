namespace CsiDriver.Hosting;

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

    /// <summary>Upper bound on the sum of provisioned capacities; null means the data
    /// directory's free space is the only limit.</summary>
    public long? CapacityLimitBytes { get; init; }

    /// <summary>Reported by NodeGetInfo; 0 means no limit.</summary>
    public long MaxVolumesPerNode { get; init; }
}
