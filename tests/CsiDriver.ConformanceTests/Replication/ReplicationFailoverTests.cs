using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using CsiDriver.TestSupport;
using Xunit.Abstractions;
using CsiDriver.Engine.Nbd;
using static CsiDriver.ConformanceTests.Replication.ReplicationSteps;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>
/// Failover to the backup and failback to the main site, end to end through the csi-addons
/// calls: the backup refuses a promotion without force while the main is primary; after the
/// main is demoted it is promoted and takes writes; the old main, resynced, receives only the
/// chunks those writes touched and ends byte for byte equal to the new primary; then the roles
/// go back and writes at the main reach the backup again.
/// </summary>
[Collection(TwoSitesCollection.Name)]
public sealed partial class ReplicationFailoverTests(ITestOutputHelper output)
{
    private const int WritesAfterFailover = 8;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Failover_then_failback_moves_only_the_diverged_chunks_and_keeps_the_data()
    {
        await using var sites = await TwoSites.StartAsync();
        await using var group = await ReplicatedGroup.StartAsync(sites);
        var id = group.GroupId;
        await group.EnableAsync();
        await group.WaitUntilReplicatingAsync();

        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => sites.Backup.Addons.PromoteGroupAsync(id, force: false));

        // Failover: the main stops, is demoted (writes refused), the backup takes over.
        var committed = await group.StopWritingAsync();
        await group.WaitForBackupAsync(committed, Timeout);
        await sites.Main.Addons.DemoteGroupAsync(id);
        await AssertWritesRefusedAsync(sites.Main.NbdSocket, group.PrimaryId);
        await sites.Backup.Addons.PromoteGroupAsync(id, force: false);
        await TransactionWriter.WriteAsync(sites.Backup.NbdSocket, group.PrimaryId, group.MirrorId, committed + 1, WritesAfterFailover);
        var newest = committed + WritesAfterFailover;

        // The old main follows the new primary: only what the new primary wrote comes back.
        await WaitForResyncAsync(sites.Main, id);
        var moved = await ResyncedChunksAsync(sites.Main);
        var diverged = TransactionWriter.ChunksOf(committed + 1, newest).Count * 2;
        await AssertSameDataAsync(sites, group);
        output.WriteLine($"failover at transaction {committed}; {WritesAfterFailover} written at the new primary; the resync moved {moved} chunks " +
            $"(touched since the common cut: {diverged} at most; the whole pair: {2 * ReplicatedGroup.Layout.DeviceBytes / Engine.ChunkRange.ChunkSize})");
        Assert.InRange(moved, 1, diverged);

        // Failback: the backup hands the role back, the main is promoted, the backup resyncs.
        await sites.Backup.Addons.DemoteGroupAsync(id);
        await sites.Main.Addons.PromoteGroupAsync(id, force: false);
        await WaitForResyncAsync(sites.Backup, id);
        await TransactionWriter.WriteAsync(sites.Main.NbdSocket, group.PrimaryId, group.MirrorId, newest + 1, WritesAfterFailover);
        var final = await group.WaitForBackupAsync(newest + WritesAfterFailover, Timeout);

        output.WriteLine($"after failback the backup holds {final}");
        Assert.True(final.IsConsistent && final.PrimaryHighest == newest + WritesAfterFailover, $"after failback: {final}\n{sites.Output()}");
        await AssertSameDataAsync(sites, group);
    }

    [Fact]
    public async Task After_a_main_site_crash_and_forced_failover_the_old_main_resyncs_what_diverged_on_both_sides()
    {
        await using var sites = await TwoSites.StartAsync();
        await using var group = await ReplicatedGroup.StartAsync(sites);
        var id = group.GroupId;
        await group.EnableAsync();
        await group.WaitUntilReplicatingAsync();

        // The link goes first, the main site a moment later: it wrote what the backup never got.
        sites.Link.Down();
        await Task.Delay(300);
        await sites.Main.CrashAsync();
        var mainCommitted = group.Workload.Committed;
        await sites.ExplainFailureAsync(() => sites.Backup.Addons.PromoteGroupAsync(id, force: true));
        var cut = await ReadBackupAsync(sites, group);
        Assert.True(cut.IsConsistent && cut.MirrorHighest < mainCommitted, $"promoted at {cut}, main had {mainCommitted}");
        var common = cut.PrimaryHighest;
        await TransactionWriter.WriteAsync(sites.Backup.NbdSocket, group.PrimaryId, group.MirrorId, common + 1, WritesAfterFailover);

        // The old main comes back still primary; demoted (retried, as the sidecar does) and resynced.
        await sites.Main.StartAsync();
        sites.Link.Up();
        var demoting = System.Diagnostics.Stopwatch.StartNew();
        await sites.ExplainFailureAsync(async () => await RetryWhileBusyAsync(() => sites.Main.Addons.DemoteGroupAsync(id)));
        var demoteTook = demoting.Elapsed;
        await WaitForResyncAsync(sites.Main, id);
        var moved = await ResyncedChunksAsync(sites.Main);
        // Chunks written after the common cut at the old main (up to its crash) or at the new primary.
        // The cut can hold the primary half of one transaction whose mirror half only the old main
        // has (the writer was between the two), so the mirror diverges from that transaction on.
        var diverged = TransactionWriter.ChunksOf(cut.MirrorHighest + 1, Math.Max(mainCommitted + 1, common + WritesAfterFailover)).Count * 2;
        output.WriteLine($"common cut at transaction {common}; the old main had reached {mainCommitted}; {WritesAfterFailover} written at the new primary; " +
            $"demote took {demoteTook.TotalSeconds:0.0} s; the resync moved {moved} chunks (diverged: {diverged} at most; the whole pair: 32)");
        Assert.InRange(moved, 1, diverged);
        await AssertSameDataAsync(sites, group);
    }

    /// <summary>Repeats a transition that is still running (DEADLINE_EXCEEDED, then ABORTED while it
    /// finishes) until it succeeds, within a bound.</summary>
    private static async Task<bool> RetryWhileBusyAsync(Func<Task> transition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                await transition();
                return true;
            }
            catch (RpcException e) when (e.Status is StatusCode.DeadlineExceeded or StatusCode.Aborted && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    private static async Task<TestSupport.Consistency.ConsistencyReport> ReadBackupAsync(TwoSites sites, ReplicatedGroup group)
    {
        await using var replicas = await ReplicaPair.OpenAsync(sites.Backup.NbdSocket, group.PrimaryId, group.MirrorId, readOnly: false);
        return await replicas.CheckAsync();
    }

    /// <summary>How many chunks the failback resync brought to <paramref name="site"/>, as its
    /// receiver logs it: neither GetVolumeReplicationInfo nor the metrics carry the count.</summary>
    private static async Task<int> ResyncedChunksAsync(ReplicationSite site)
    {
        var line = await site.Process.Output.WaitForLineAsync(l => ReceivedResync().IsMatch(l), "of a completed resync at " + site.Name, Timeout);
        return int.Parse(ReceivedResync().Match(line).Groups["chunks"].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"resync complete \((?<chunks>\d+) chunks\) at source sequence")]
    private static partial System.Text.RegularExpressions.Regex ReceivedResync();
}
