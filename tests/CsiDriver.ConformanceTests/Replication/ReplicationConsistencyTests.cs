using CsiDriver.ConformanceTests.Infrastructure;
using Xunit.Abstractions;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>
/// The backup is always a state the main site passed through: a group of two volumes written
/// under the "mirror never ahead of primary" invariant is replicated between two real driver
/// processes over mutual TLS, with random delay, jitter, resets and short outages on the link;
/// the replicas and backup group snapshots, checked at random moments, never break the
/// invariant. Replicating the same volumes per volume (no group order) does break it, which
/// shows the checks can fail.
/// </summary>
[Collection(TwoSitesCollection.Name)]
public sealed class ReplicationConsistencyTests(ITestOutputHelper output)
{
    private const int RequiredChecks = 500;
    private static readonly TimeSpan LinkDelay = TimeSpan.FromMilliseconds(1);

    [Fact]
    public async Task Group_replication_keeps_every_backup_image_consistent_under_link_faults()
    {
        var seed = Environment.TickCount;
        await using var sites = await TwoSites.StartAsync();
        await using var group = await ReplicatedGroup.StartAsync(sites);
        sites.Link.Delay = LinkDelay;
        await group.EnableAsync();
        await group.WaitUntilReplicatingAsync();
        var startedAt = group.Workload.Committed;

        var results = await new BackupProbe(sites, group, seed).RunAsync(RequiredChecks, stopAtFirstViolation: false);
        var committed = await group.StopWritingAsync();
        var final = await group.WaitForBackupAsync(committed, TimeSpan.FromSeconds(30));

        output.WriteLine($"seed {seed}: {results}; main committed {startedAt}..{committed}; backup finally at {final}");
        Assert.True(results.Violations.Count == 0, $"seed {seed}: {results}\n{sites.Output()}");
        // The checks mean something only if the replicas moved under them and faults happened
        // (a link reconnecting slowly after a fault leaves fewer states: liveness is judged below).
        var seen = results.Checks.Select(c => c.Report.MirrorHighest).Distinct().Count();
        Assert.True(seen >= RequiredChecks / 20, $"the replicas showed only {seen} distinct states over {results.Checks.Count} checks");
        Assert.True(results.Faults > 0);
        Assert.True(final.IsConsistent && final.PrimaryHighest == committed && final.MirrorHighest == committed, $"after catch-up: {final}");
    }

    [Fact]
    public async Task Per_volume_replication_of_the_same_volumes_shows_the_mirror_ahead()
    {
        var seed = Environment.TickCount;
        await using var sites = await TwoSites.StartAsync();
        await using var group = await ReplicatedGroup.StartAsync(sites);
        sites.Link.Delay = LinkDelay;
        await group.EnableAsync(GroupReplication.PerVolumeMode);
        await group.WaitUntilReplicatingAsync();

        var results = await new BackupProbe(sites, group, seed).RunAsync(RequiredChecks, stopAtFirstViolation: true);
        await group.StopWritingAsync();

        output.WriteLine($"seed {seed}: {results}");
        Assert.True(results.Violations.Count > 0, $"seed {seed}: per-volume replication never showed the mirror ahead: {results}");
        Assert.Contains(results.Violations, v => v.Report.MirrorAhead);
    }
}
