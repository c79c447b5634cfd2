namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>The command-line choices of one driver start; <see cref="Arguments"/> renders them
/// as `csidriver serve` flags.</summary>
public sealed record DriverSettings
{
    public const string DefaultNodeId = "conformance-node";

    public string NodeId { get; init; } = DefaultNodeId;

    public string? DriverName { get; init; }

    public bool CsiAddons { get; init; }

    public string? LogFormat { get; init; }

    public string? CapacityLimit { get; init; }

    public string? OvercommitRatio { get; init; }

    public int? MaxVolumesPerNode { get; init; }

    /// <summary>Serve the site link to a peer site; null: a standalone driver.</summary>
    public SiteLinkSettings? SiteLink { get; init; }

    /// <summary>Hand FUSE sessions to the workspace's session holder (--session-holder).</summary>
    public bool SessionHolder { get; init; }

    /// <summary>host:port of the Prometheus text endpoint; null: none.</summary>
    public string? MetricsAddress { get; init; }

    /// <summary>More flags, after the ones above (a cluster node's node link, for one).</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>What runs the executable (nsenter into a simulated host); empty: run it directly.</summary>
    public IReadOnlyList<string> Launcher { get; init; } = [];

    public IReadOnlyList<string> Arguments(DriverWorkspace workspace)
    {
        var arguments = new List<string>
        {
            "serve",
            "--endpoint", "unix://" + workspace.SocketPath,
            "--node-id", NodeId,
            "--data-dir", workspace.DataDirectory,
            "--kubelet-dir", workspace.KubeletDirectory,
        };
        if (DriverName is not null)
        {
            arguments.AddRange(["--driver-name", DriverName]);
        }
        if (CsiAddons)
        {
            arguments.AddRange(["--csiaddons-endpoint", "unix://" + workspace.CsiAddonsSocketPath]);
        }
        if (LogFormat is not null)
        {
            arguments.AddRange(["--log-format", LogFormat]);
        }
        if (CapacityLimit is not null)
        {
            arguments.AddRange(["--capacity-limit", CapacityLimit]);
        }
        if (OvercommitRatio is not null)
        {
            arguments.AddRange(["--overcommit-ratio", OvercommitRatio]);
        }
        if (MaxVolumesPerNode is { } max)
        {
            arguments.AddRange(["--max-volumes-per-node", max.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }
        if (SiteLink is not null)
        {
            arguments.AddRange(SiteLink.Arguments());
        }
        if (SessionHolder)
        {
            arguments.AddRange(["--session-holder", workspace.HolderSocketPath]);
        }
        if (MetricsAddress is not null)
        {
            arguments.AddRange(["--metrics-address", MetricsAddress]);
        }
        arguments.AddRange(ExtraArguments);
        return arguments;
    }
}
