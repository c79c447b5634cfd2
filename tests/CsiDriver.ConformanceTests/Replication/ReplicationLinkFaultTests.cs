using CsiDriver.ConformanceTests.Infrastructure;
using Xunit.Abstractions;
using Status = CsiAddons.Replication.GetVolumeReplicationInfoResponse.Types.Status;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>
/// Faults of the link between the sites while the group is written: an outage the journal
/// budget absorbs (DEGRADED with the lag, then catch-up), and one it does not (dirty-chunk
/// tracking, then a delta resync during which the backup's last consistent image stays protected).
/// </summary>
[Collection(TwoSitesCollection.Name)]
public sealed class ReplicationLinkFaultTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan CatchUpTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReconnectTimeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Link_down_holds_the_journal_within_budget_reports_the_lag_and_catches_up_when_back()
    {
        const long budget = 64L << 20;
        await using var sites = await TwoSites.StartAsync();
        await using var group = await ReplicatedGroup.StartAsync(sites);
        await group.EnableAsync(journalBudget: "64Mi");
        await group.WaitUntilReplicatingAsync();

        sites.Link.Down();
        await Task.Delay(Outage / 3);
        var early = await JournalBytesAsync(sites.Main, group.GroupId);
        await Task.Delay(Outage * 2 / 3);
        var late = await JournalBytesAsync(sites.Main, group.GroupId);
        var during = await sites.Main.Addons.GroupReplicationInfoAsync(group.GroupId);

        output.WriteLine($"link down: journal held {early} then {late} bytes; main reports {during} (lag {during.Lag()?.TotalSeconds:0.0} s)");
        Assert.True(late > early, $"the journal did not grow while the link was down ({early} → {late} bytes)");
        Assert.True(late <= budget, $"the journal holds {late} bytes, over its {budget}-byte budget");
        Assert.Equal(Status.Degraded, during.Status);
        Assert.False(string.IsNullOrWhiteSpace(during.StatusMessage), "DEGRADED must say why");
        Assert.True(during.Lag() >= Outage * 0.8, $"lag {during.Lag()} while the link has been down {Outage}");

        var connections = sites.Link.ConnectionsAccepted;
        sites.Link.Up();
        // Reconnect attempts back off to at most a second: a new connection must come soon.
        await WaitAsync(() => sites.Link.ConnectionsAccepted > connections, "reconnection after the link came back", ReconnectTimeout);
        var after = await sites.Main.Addons.WaitForReplicationAsync(group.GroupId,
            info => ReplicatedGroup.Replicating(info) && info.Lag() < TimeSpan.FromSeconds(1), "caught up", CatchUpTimeout);
        var committed = await group.StopWritingAsync();
        var final = await group.WaitForBackupAsync(committed, CatchUpTimeout);

        output.WriteLine($"link back: {after}; backup at {final}");
        Assert.True(final.IsConsistent && final.PrimaryHighest == committed, $"after catch-up: {final}");
    }

    [Fact]
    public async Task Past_the_budget_the_backup_keeps_its_image_and_a_delta_resync_catches_up()
    {
        await using var sites = await TwoSites.StartAsync();
        await using var group = await ReplicatedGroup.StartAsync(sites);
        await group.EnableAsync(journalBudget: "2Mi");
        await group.WaitUntilReplicatingAsync();

        var before = await OutageBeyondBudgetAsync(sites, group);
        sites.Link.Up();
        await sites.Main.Addons.WaitForReplicationAsync(group.GroupId,
            info => ReplicatedGroup.Replicating(info) && info.Lag() < TimeSpan.FromSeconds(1), "caught up by delta resync", CatchUpTimeout);
        var committed = await group.StopWritingAsync();
        var final = await group.WaitForBackupAsync(committed, CatchUpTimeout);

        output.WriteLine($"backup before the resync {before}; after {final}");
        Assert.True(final.IsConsistent && final.PrimaryHighest == committed, $"after the delta resync: {final}");
    }

    [Fact]
    public async Task A_forced_promotion_during_a_delta_resync_returns_to_the_last_consistent_image()
    {
        await using var sites = await TwoSites.StartAsync();
        await using var group = await ReplicatedGroup.StartAsync(sites);
        await group.EnableAsync(journalBudget: "2Mi");
        await group.WaitUntilReplicatingAsync();

        var before = await OutageBeyondBudgetAsync(sites, group);
        // A slow link keeps the resync going for many seconds: the promotion lands inside it.
        sites.Link.BytesPerSecond = 64 << 10;
        var forwarded = sites.Link.BytesForwarded;
        sites.Link.Up();
        await WaitAsync(() => sites.Link.BytesForwarded - forwarded >= 96 << 10, "resync data on the link", CatchUpTimeout);
        var midResync = await sites.Main.Addons.GroupReplicationInfoAsync(group.GroupId);
        // Stopped first: the promotion fences the main, whose writes then fail.
        await group.StopWritingAsync();
        await sites.ExplainFailureAsync(() => sites.Backup.Addons.PromoteGroupAsync(group.GroupId, force: true));

        await using var replicas = await ReplicaPair.OpenAsync(sites.Backup.NbdSocket, group.PrimaryId, group.MirrorId, readOnly: false);
        var promoted = await replicas.CheckAsync();
        output.WriteLine($"before the outage the backup held {before}; main mid-resync reported {midResync}; after the forced promotion: {promoted}");
        Assert.NotEqual(Status.Healthy, midResync.Status);
        Assert.True(promoted.IsConsistent, $"the promoted backup is not a consistent image: {promoted}");
        Assert.Equal(before.PrimaryHighest, promoted.PrimaryHighest);
        Assert.Equal(before.MirrorHighest, promoted.MirrorHighest);
    }

    /// <summary>Cuts the link long enough to write several times the 2 MiB budget; returns the
    /// backup's image during the outage, which is stable (nothing arrives) and must be consistent.</summary>
    private static async Task<TestSupport.Consistency.ConsistencyReport> OutageBeyondBudgetAsync(TwoSites sites, ReplicatedGroup group)
    {
        sites.Link.Down();
        var atCut = group.Workload.Committed;
        // The outage lasts until the main has written twice the budget, counted, not timed, so a
        // slow machine only makes it longer.
        const long twiceTheBudget = 2 * (2 << 20) / (2 * TestSupport.Consistency.TransactionRecord.Size);
        await ReplicationCalls.EventuallyAsync(() => Task.FromResult(group.Workload.Committed - atCut), written => written > twiceTheBudget);
        // Records the backup never got were released: the journal now tracks dirty chunks instead.
        await ReplicationCalls.EventuallyAsync(sites.Main.ScrapeMetricsAsync, text =>
            new PrometheusSamples(text).Find(ReplicationMetrics.ConsumerOverrun, "consumer", ReplicationMetrics.ShipperConsumer) == 1);
        await using var replicas = await ReplicaPair.OpenAsync(sites.Backup.NbdSocket, group.PrimaryId, group.MirrorId);
        var image = await replicas.CheckAsync();
        Assert.True(image.IsConsistent, $"the backup's image during the outage: {image}\n{sites.Output()}");
        var info = await sites.Main.Addons.GroupReplicationInfoAsync(group.GroupId);
        Assert.NotEqual(Status.Healthy, info.Status);
        return image;
    }

    private static async Task<double> JournalBytesAsync(ReplicationSite site, string replicationId) =>
        new PrometheusSamples(await site.ScrapeMetricsAsync()).Require(ReplicationMetrics.JournalOutstandingBytes, ReplicationMetrics.ReplicationLabel, replicationId);

    private static async Task WaitAsync(Func<bool> condition, string what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"no {what} within {timeout.TotalSeconds} s");
            await Task.Delay(20);
        }
    }
}
