namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>Where a site's process runs: the address its site link and metrics listen on, what
/// launches it (nsenter into a network namespace, taskset onto a CPU set; each execs the next,
/// so the process id is the driver's), and flags it needs there (the certificate name to check
/// when peers are reached at addresses their certificates do not carry).</summary>
public sealed record SitePlacement(string Host, IReadOnlyList<string> Launcher, IReadOnlyList<string> ExtraArguments)
{
    /// <summary>On 127.0.0.1, in this network namespace, on every CPU.</summary>
    public static SitePlacement Loopback { get; } = new("127.0.0.1", [], []);
}
