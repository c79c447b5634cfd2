using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.TestSupport;
using Xunit.Abstractions;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>
/// A site dies (SIGKILL) while the group is written and replicated: the backup in the middle of
/// applying resumes exactly where its durable position says, and after the main site's death
/// the backup is a consistent image that lost at most what the reported lag showed.
/// </summary>
[Collection(TwoSitesCollection.Name)]
public sealed class ReplicationSiteFaultTests(ITestOutputHelper output)
{
    private static readonly TimeSpan CatchUpTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan UnderLoad = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task A_backup_killed_while_applying_resumes_exactly_after_a_restart()
    {
        await using var sites = await TwoSites.StartAsync();
        await using var group = await ReplicatedGroup.StartAsync(sites);
        sites.Link.Delay = TimeSpan.FromMilliseconds(2);
        await group.EnableAsync();
        await group.WaitUntilReplicatingAsync();
        await Task.Delay(UnderLoad);

        // Batches are in flight on the link and being applied when the backup dies.
        var forwarded = sites.Link.BytesForwarded;
        await Task.Delay(50);
        Assert.True(sites.Link.BytesForwarded > forwarded, "nothing was being shipped when the backup was killed");
        await sites.Backup.CrashAsync();
        await Task.Delay(500);
        await sites.Backup.StartAsync();

        await sites.Main.Addons.WaitForReplicationAsync(group.GroupId,
            info => ReplicatedGroup.Replicating(info) && info.Lag() < TimeSpan.FromSeconds(1), "resumed", CatchUpTimeout);
        var probe = await new BackupProbe(sites, group, seed: 3, linkFaults: false).RunAsync(checkCount: 50, stopAtFirstViolation: false);
        var committed = await group.StopWritingAsync();
        var final = await group.WaitForBackupAsync(committed, CatchUpTimeout);

        output.WriteLine($"after the restart: {probe}; backup finally {final}");
        Assert.Empty(probe.Violations);
        // A batch lost or applied twice leaves a gap or a slot older than its neighbours.
        Assert.True(final.IsConsistent && final.PrimaryHighest == committed && final.MirrorHighest == committed, $"after the restart: {final}\n{sites.Output()}");
    }

    [Fact]
    public async Task After_a_main_site_crash_the_promoted_backup_is_consistent_and_lost_at_most_the_lag()
    {
        await using var sites = await TwoSites.StartAsync();
        await using var group = await ReplicatedGroup.StartAsync(sites);
        sites.Link.Delay = TimeSpan.FromMilliseconds(5);
        sites.Link.Jitter = TimeSpan.FromMilliseconds(10);
        await group.EnableAsync();
        await group.WaitUntilReplicatingAsync();
        long committedAtCrash;
        CommitTimeline timeline;
        await using (timeline = new CommitTimeline(group.Workload))
        {
            await Task.Delay(UnderLoad);
            await sites.Main.CrashAsync();
            committedAtCrash = group.Workload.Committed;
        }
        var crashedAt = DateTimeOffset.UtcNow;

        // The backup's own account of how far it got: the main-site time of its newest record.
        var info = await sites.Backup.Addons.GroupReplicationInfoAsync(group.GroupId);
        Assert.NotNull(info.LastSyncTime);
        var lastSync = info.LastSyncTime.ToDateTimeOffset();
        await sites.Backup.Addons.PromoteGroupAsync(group.GroupId, force: true);
        await using var promoted = await ReplicaPair.OpenAsync(sites.Backup.NbdSocket, group.PrimaryId, group.MirrorId, readOnly: false);
        var image = await promoted.CheckAsync();
        var guaranteed = timeline.CommittedBefore(lastSync);

        output.WriteLine($"main committed {committedAtCrash} when killed; backup reported last sync {lastSync:O} " +
            $"(lag {(crashedAt - lastSync).TotalMilliseconds:0} ms at the crash), so everything up to {guaranteed} must be there; promoted image {image}");
        Assert.True(image.IsConsistent, $"the promoted backup is not consistent: {image}\n{sites.Output()}");
        Assert.InRange(image.MirrorHighest, guaranteed, committedAtCrash + 1);
        Assert.True(guaranteed > ReplicatedGroup.Layout.Slots, $"the lag covered the whole run: last sync {lastSync:O}");
        await AssertWritableAsync(sites.Backup.NbdSocket, group.PrimaryId);
    }

    /// <summary>A promoted volume takes writes again (its first block, rewritten as it is).</summary>
    private static async Task AssertWritableAsync(string nbdSocket, string volumeId)
    {
        await using var device = await NbdBlockDevice.OpenAsync(nbdSocket, volumeId);
        Assert.False(device.IsReadOnly);
        var block = new byte[4096];
        await device.ReadAsync(0, block);
        await device.WriteAsync(0, block, fua: true);
    }
}
