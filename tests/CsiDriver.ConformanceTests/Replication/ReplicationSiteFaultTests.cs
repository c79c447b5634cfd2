using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.TestSupport;
using Xunit.Abstractions;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>
/// A site dies (SIGKILL) while the group is written and replicated: the backup in the middle of
/// applying resumes exactly where its durable position says, the backup killed in the middle of
/// a coalesced catch-up ends consistent and equal to the main, and after the main site's death
/// the backup is a consistent image that lost at most what the reported lag showed.
/// </summary>
[Collection(TwoSitesCollection.Name)]
public sealed class ReplicationSiteFaultTests(ITestOutputHelper output)
{
    private static readonly TimeSpan CatchUpTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan UnderLoad = TimeSpan.FromSeconds(2);
    private const long BallastBytes = 16L << 20;
    private const int BallastPasses = 6;

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

    /// <summary>An outage whose backlog (six passes over a 16 MiB ballast volume of the group, more
    /// than the shipper's 64 MiB coalescing floor and than all the group's volumes hold) is caught
    /// up as one atomic cut of the changed chunks, not record by record. The link is slowed so the
    /// cut is still on its way when the backup is killed; the restarted backup, whose replicas
    /// were mid-resync, gets a full resync, and ends consistent and equal to the main.</summary>
    [Fact]
    public async Task A_backup_killed_in_the_middle_of_a_coalesced_catch_up_ends_consistent_and_equal()
    {
        await using var sites = await TwoSites.StartAsync();
        await using var group = await ReplicatedGroup.StartAsync(sites);
        var request = Volumes.Request(Volumes.UniqueName("ballast"), Volumes.Block(), BallastBytes);
        request.Parameters["consistencyGroup"] = group.GroupId;
        var ballast = (await sites.Main.Csi.CreateVolume(request)).Volume.VolumeId;
        await group.EnableAsync(journalBudget: "1Gi");
        await group.WaitUntilReplicatingAsync();

        sites.Link.Down();
        var random = new Random(7);
        await using (var device = await NbdBlockDevice.OpenAsync(sites.Main.NbdSocket, ballast))
        {
            var piece = new byte[1 << 20];
            for (var offset = 0L; offset < BallastBytes * BallastPasses; offset += piece.Length)
            {
                random.NextBytes(piece);
                await device.WriteAsync(offset % BallastBytes, piece, fua: false);
            }
            await device.FlushAsync();
        }
        sites.Link.BytesPerSecond = 2 << 20;
        sites.Link.Up();
        await sites.Main.Addons.WaitForReplicationAsync(group.GroupId,
            info => info.StatusMessage.StartsWith("resyncing", StringComparison.Ordinal), "catching up by a coalesced cut", CatchUpTimeout);
        Assert.Contains("Coalesced resync", sites.Main.OutputText, StringComparison.Ordinal);
        await sites.Backup.CrashAsync();
        await sites.Backup.StartAsync();
        sites.Link.BytesPerSecond = 0;

        await sites.Main.Addons.WaitForReplicationAsync(group.GroupId,
            info => ReplicatedGroup.Replicating(info) && info.Lag() < TimeSpan.FromSeconds(1), "caught up after the restart", CatchUpTimeout * 4);
        var probe = await new BackupProbe(sites, group, seed: 5, linkFaults: false).RunAsync(checkCount: 50, stopAtFirstViolation: false);
        var committed = await group.StopWritingAsync();
        var final = await group.WaitForBackupAsync(committed, CatchUpTimeout);

        output.WriteLine($"after the restart: {probe}; backup finally {final}");
        Assert.Empty(probe.Violations);
        Assert.True(final.IsConsistent && final.PrimaryHighest == committed && final.MirrorHighest == committed, $"after the restart: {final}\n{sites.Output()}");
        Assert.Equal(await HashAsync(sites.Main.NbdSocket, ballast), await HashAsync(sites.Backup.NbdSocket, ballast));
    }

    private static async Task<string> HashAsync(string nbdSocket, string volumeId)
    {
        await using var device = await NbdBlockDevice.OpenAsync(nbdSocket, volumeId);
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var piece = new byte[1 << 20];
        for (var offset = 0L; offset < BallastBytes; offset += piece.Length)
        {
            await device.ReadAsync(offset, piece);
            hash.AppendData(piece);
        }
        return Convert.ToHexString(hash.GetHashAndReset());
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
