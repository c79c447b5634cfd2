using CsiDriver.Engine;
using CsiDriver.Replication;
using CsiDriver.State;

namespace CsiDriver.Replication.Tests;

/// <summary>
/// Two sites in-process — two real engines in temporary directories, each with its manager and
/// its site link on a loopback port over mutual TLS — replicating the group "orders" (volumes
/// "sales" and "stock").
/// </summary>
public sealed class ReplicationManagerTests : IAsyncLifetime
{
    private const string Group = "orders";
    private readonly SiteLinkCertificates _certificates = new();
    private TestSite _main = null!;
    private TestSite _backup = null!;

    public async Task InitializeAsync()
    {
        _main = new TestSite("main", _certificates.Main);
        _backup = new TestSite("backup", _certificates.Backup);
        await _main.StartLinkAsync();
        await _backup.StartLinkAsync();
        foreach (var volumeId in new[] { "sales", "stock" })
        {
            _main.Engine.CreateVolume(volumeId, Volumes.Size, Group);
            _main.State.InsertVolume(new VolumeRecord { Id = volumeId, Name = $"pvc-{volumeId}", CapacityBytes = Volumes.Size, AccessType = AccessType.Mount, FsType = "ext4" });
        }
    }

    public async Task DisposeAsync()
    {
        await _main.DisposeAsync();
        await _backup.DisposeAsync();
        _certificates.Dispose();
    }

    [Fact]
    public async Task Initial_sync_copies_the_group_then_the_replicas_follow_the_journal()
    {
        await WriteAsync(_main, "sales", [0, 17, 300, 1000]);
        await WriteAsync(_main, "stock", [5, 16, 17]);

        await _main.Manager.EnableAsync(Spec(_backup), default);
        await CaughtUpAsync(_main);
        await AssertSameAsync(_main, _backup);

        var info = _main.Manager.GetInfo(Group);
        Assert.Equal(ReplicationRole.Primary, info.Role);
        Assert.Equal(ReplicationHealth.Healthy, info.Health);
        // 64 KiB chunks: sales blocks 0, 17, 300, 1000 → chunks 0, 1, 18, 62; stock 5, 16, 17 → chunks 0, 1.
        Assert.Equal(6, info.LastResyncChunks);
        Assert.Equal(new ResyncProgress(true, 6, 6, 6 * 65536, 6 * 65536), info.Resync);
        var replica = _backup.Engine.GetVolume("sales");
        Assert.True(replica.IsReadOnly);
        Assert.Equal(Group, replica.ConsistencyGroup);
        Assert.Equal("pvc-sales", _backup.State.FindVolume("sales")?.Name);
        Assert.NotNull(_backup.State.FindVolumeGroup(Group));
        Assert.Equal(ReplicationRole.Secondary, _backup.Manager.GetInfo(Group).Role);

        await WriteAsync(_main, "stock", [40, 41, 900]);
        await _main.Engine.GetVolume("sales").TrimAsync(0, 8192);
        await CaughtUpAsync(_main);
        await AssertSameAsync(_main, _backup);
        var backupInfo = _backup.Manager.GetInfo(Group);
        Assert.Equal(_main.Engine.GetJournalStatus(_main.Engine.GetVolume("sales").Group).LastSequence, backupInfo.AppliedSequence);
        Assert.NotNull(backupInfo.LastSyncTime);
        Assert.Equal(6, _main.Manager.GetInfo(Group).LastResyncChunks);
    }

    [Fact]
    public async Task Replicas_are_always_a_prefix_of_the_group_under_writes()
    {
        await _main.Manager.EnableAsync(Spec(_backup), default);
        await CaughtUpAsync(_main);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var writer = Task.Run(async () =>
        {
            var sales = _main.Engine.GetVolume("sales");
            var stock = _main.Engine.GetVolume("stock");
            for (var i = 1; i <= 20_000 && !stop.IsCancellationRequested; i++)
            {
                // The transaction: sales first, then stock; a prefix never has stock ahead.
                await sales.WriteAsync((i % 256) * 4096L, Volumes.Block(i), fua: false);
                await stock.WriteAsync((i % 256) * 4096L, Volumes.Block(i), fua: false);
                if (i % 20 == 0)
                {
                    await Task.Delay(1); // a steady load, not a busy loop starving the two sites
                }
            }
        });
        var checks = 0;
        var violations = new List<string>();
        var checksUnderWrites = 0;
        while (checks < 8)
        {
            checksUnderWrites += writer.IsCompleted ? 0 : 1;
            await Task.Delay(50);
            var snapshots = _backup.Engine.CreateGroupSnapshot([("sales", $"check-{checks}-a"), ("stock", $"check-{checks}-b")]);
            var sales = await Volumes.ReadSlotsAsync(_backup.Engine.OpenSnapshot(snapshots[0].Id), 256);
            var stock = await Volumes.ReadSlotsAsync(_backup.Engine.OpenSnapshot(snapshots[1].Id), 256);
            var newestSale = sales.Max();
            var newestStock = stock.Max();
            if (newestStock > newestSale || newestSale - newestStock > 1 || Enumerable.Range(0, 256).Any(s => stock[s] > sales[s]))
            {
                violations.Add($"check {checks}: newest sale {newestSale}, newest stock {newestStock}");
            }
            foreach (var snapshot in snapshots)
            {
                _backup.Engine.DeleteSnapshot(snapshot.Id);
            }
            checks++;
        }
        await stop.CancelAsync();
        await writer;
        Assert.True(checksUnderWrites >= 3, $"only {checksUnderWrites} checks ran while the writer was writing");
        Assert.Empty(violations);
        await CaughtUpAsync(_main);
        await AssertSameAsync(_main, _backup);
    }

    [Fact]
    public async Task A_cut_link_resumes_where_the_backup_left_off_without_a_resync()
    {
        await WriteAsync(_main, "sales", [1, 2, 3]);
        await _main.Manager.EnableAsync(Spec(_backup), default);
        await CaughtUpAsync(_main);
        var initialChunks = _main.Manager.GetInfo(Group).LastResyncChunks;

        await _backup.StopLinkAsync();
        await WriteAsync(_main, "stock", [100, 101, 102]);
        await Volumes.WaitUntilAsync(() => _main.Manager.GetInfo(Group).Health == ReplicationHealth.Degraded, "the main to report the link down");
        var down = _main.Manager.GetInfo(Group);
        Assert.True(down.JournalOutstandingRecords >= 3, $"{down.JournalOutstandingRecords} records outstanding");
        Assert.Contains("down", down.HealthMessage, StringComparison.Ordinal);

        await _backup.StartLinkAsync();
        await WriteAsync(_main, "sales", [4]);
        await CaughtUpAsync(_main);
        await AssertSameAsync(_main, _backup);
        var after = _main.Manager.GetInfo(Group);
        Assert.Equal(initialChunks, after.LastResyncChunks);
        Assert.Equal(ReplicationHealth.Healthy, after.Health);
        Assert.Equal(0, after.JournalOutstandingRecords);
    }

    [Fact]
    public async Task Failover_and_failback_ship_only_the_chunks_that_diverged()
    {
        await WriteAsync(_main, "sales", Enumerable.Range(0, 64).Select(i => i * 16).ToArray());
        await _main.Manager.EnableAsync(Spec(_backup), default);
        await CaughtUpAsync(_main);

        // The link fails; the main keeps writing 3 chunks the backup never gets.
        await _backup.StopLinkAsync();
        await WriteAsync(_main, "sales", [10 * 16, 11 * 16, 12 * 16 + 3]);
        await _backup.Manager.PromoteAsync(Group, force: true, default);
        Assert.False(_backup.Engine.GetVolume("sales").IsReadOnly);
        // The new primary writes 5 chunks.
        await WriteAsync(_backup, "stock", [20 * 16, 21 * 16, 22 * 16, 23 * 16, 24 * 16 + 1]);
        await _backup.StartLinkAsync();

        await _main.Manager.DemoteAsync(Group, default);
        Assert.Equal(ReplicationState.Demoted, _main.Manager.GetInfo(Group).State);
        await Assert.ThrowsAsync<ReadOnlyVolumeException>(() => _main.Engine.GetVolume("sales").WriteAsync(0, Volumes.Block(1), false).AsTask());
        var progress = await _main.Manager.ResyncAsync(Group, default);
        Assert.False(progress.Ready);
        await Volumes.WaitUntilAsync(() => _main.Manager.ResyncAsync(Group, default).Result.Ready, "the failback resync to complete");

        Assert.Equal(8, _main.Manager.GetInfo(Group).LastResyncChunks);
        // The new primary counts once it hears the acknowledgement, a moment after the old one is ready.
        await Volumes.WaitUntilAsync(() => _backup.Manager.GetInfo(Group).Resync.Ready, "the new primary to hear the resync complete");
        Assert.Equal(8, _backup.Manager.GetInfo(Group).LastResyncChunks);
        await CaughtUpAsync(_backup);
        await AssertSameAsync(_backup, _main);
        // The new primary drops its promotion snapshots once it hears the resync completed.
        await Volumes.WaitUntilAsync(
            () => !_backup.Engine.Snapshots.Concat(_main.Engine.Snapshots).Any(s => s.Id.StartsWith(ReplicationSnapshots.Prefix, StringComparison.Ordinal)),
            "the promotion and protection snapshots to go");

        // The old main now follows the new primary.
        await WriteAsync(_backup, "sales", [500]);
        await CaughtUpAsync(_backup);
        await AssertSameAsync(_backup, _main);
    }

    [Fact]
    public async Task Promotion_without_force_waits_for_the_main_to_be_demoted()
    {
        await WriteAsync(_main, "sales", [7]);
        await _main.Manager.EnableAsync(Spec(_backup), default);
        await CaughtUpAsync(_main);

        await Assert.ThrowsAsync<PeerIsPrimaryException>(() => _backup.Manager.PromoteAsync(Group, force: false, default));
        Assert.True(_backup.Engine.GetVolume("sales").IsReadOnly);

        await WriteAsync(_main, "stock", [8]);
        await _main.Manager.DemoteAsync(Group, default);
        await _main.Manager.DemoteAsync(Group, default); // idempotent
        await _backup.Manager.PromoteAsync(Group, force: false, default);
        await _backup.Manager.PromoteAsync(Group, force: false, default); // idempotent
        Assert.False(_backup.Engine.GetVolume("stock").IsReadOnly);
        await AssertSameAsync(_main, _backup);
        Assert.Equal(ReplicationRole.Primary, _backup.Manager.GetInfo(Group).Role);
        Assert.Equal(ReplicationRole.Secondary, _main.Manager.GetInfo(Group).Role);
    }

    [Fact]
    public async Task A_forced_promotion_fences_a_connected_main_first_and_ships_what_it_acknowledged()
    {
        await WriteAsync(_main, "sales", [9]);
        await _main.Manager.EnableAsync(Spec(_backup), default);
        await CaughtUpAsync(_main);

        // A writer at the main that goes on until its writes have been refused 20 times.
        var acknowledged = 0;
        var acknowledgedAfterRefusal = 0;
        ReadOnlyVolumeException? refusal = null;
        var writer = Task.Run(async () =>
        {
            var sales = _main.Engine.GetVolume("sales");
            var refused = 0;
            for (var i = 1; i <= 1_000_000 && refused < 20; i++)
            {
                try
                {
                    await sales.WriteAsync((i % 256) * 4096L, Volumes.Block(i), fua: false);
                    if (refusal is null)
                    {
                        Volatile.Write(ref acknowledged, i);
                    }
                    else
                    {
                        acknowledgedAfterRefusal++;
                    }
                }
                catch (ReadOnlyVolumeException e)
                {
                    refusal ??= e;
                    refused++;
                }
                if (i % 20 == 0)
                {
                    await Task.Delay(1);
                }
            }
        });
        await Volumes.WaitUntilAsync(() => Volatile.Read(ref acknowledged) >= 100, "the writer at the main to get going");

        await _backup.Manager.PromoteAsync(Group, force: true, default);
        Assert.False(writer.IsCompleted && refusal is null, "the writer stopped before the fence");
        await writer;

        // Fenced before the backup took a write, and everything it acknowledged shipped first:
        // the two sites hold the same bytes, and nothing was acknowledged after the fence.
        Assert.NotNull(refusal);
        Assert.Contains("fenced", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(0, acknowledgedAfterRefusal);
        await AssertSameAsync(_main, _backup);
        var promoted = _backup.Manager.GetInfo(Group);
        Assert.Equal((ReplicationRole.Primary, 2L), (promoted.Role, promoted.Epoch));
        Assert.Equal(new PromotionOutcome(Forced: true, OldPrimaryFenced: true, LostRecords: 0), promoted.Promotion);
        Assert.Contains("epoch 2", promoted.HealthMessage, StringComparison.Ordinal);
        var fenced = _main.Manager.GetInfo(Group);
        Assert.Equal(ReplicationHealth.Error, fenced.Health);
        Assert.Equal(2, fenced.Fence?.Epoch);
        Assert.StartsWith("fenced", fenced.HealthMessage, StringComparison.Ordinal);

        // Only the new primary takes writes; the old one cannot be promoted back while fenced.
        await WriteAsync(_backup, "sales", [10]);
        await Assert.ThrowsAsync<ReplicationFencedException>(() => _main.Manager.PromoteAsync(Group, force: true, default));
        await Assert.ThrowsAsync<ReadOnlyVolumeException>(() => _main.Engine.GetVolume("stock").WriteAsync(0, Volumes.Block(1), false).AsTask());
    }

    [Fact]
    public async Task A_main_that_missed_a_forced_promotion_is_fenced_at_first_contact_and_stays_fenced()
    {
        await WriteAsync(_main, "sales", [1]);
        await _main.Manager.EnableAsync(Spec(_backup), default);
        await CaughtUpAsync(_main);

        // A partition: neither site reaches the other. The backup is promoted on the epoch alone.
        await _main.StopLinkAsync();
        await _backup.StopLinkAsync();
        await _backup.Manager.PromoteAsync(Group, force: true, default);
        var promoted = _backup.Manager.GetInfo(Group);
        Assert.Equal(2, promoted.Epoch);
        Assert.Equal(new PromotionOutcome(Forced: true, OldPrimaryFenced: false, LostRecords: null), promoted.Promotion);
        Assert.Contains("could not be reached", promoted.HealthMessage, StringComparison.Ordinal);

        // The stated window: until it hears of the promotion, the old main cannot know.
        await WriteAsync(_main, "sales", [2]);

        // The link is back: its first contact fences it, and it says why.
        await _main.StartLinkAsync();
        await _backup.StartLinkAsync();
        // (The fence is recorded first, then the volumes refuse: wait for both.)
        await Volumes.WaitUntilAsync(() => _main.Manager.GetInfo(Group).Fence is not null && _main.Engine.GetVolume("sales").IsReadOnly, "the old main to hear of epoch 2");
        var refused = await Assert.ThrowsAsync<ReadOnlyVolumeException>(() => _main.Engine.GetVolume("sales").WriteAsync(0, Volumes.Block(1), false).AsTask());
        Assert.Contains("epoch 2", refused.Message, StringComparison.Ordinal);
        Assert.Equal(ReplicationHealth.Error, _main.Manager.GetInfo(Group).Health);

        // Durable: restarted without its peer it is still fenced, from its own record.
        await _backup.StopLinkAsync();
        await _main.RestartManagerAsync();
        Assert.Equal(2, _main.State.LoadReplications().Single().Fence?.Epoch);
        Assert.Equal(ReplicationHealth.Error, _main.Manager.GetInfo(Group).Health);
        await Assert.ThrowsAsync<ReadOnlyVolumeException>(() => _main.Engine.GetVolume("stock").WriteAsync(0, Volumes.Block(1), false).AsTask());

        // Demoted and resynced, it follows the new primary.
        await _backup.StartLinkAsync();
        await _main.Manager.DemoteAsync(Group, default);
        Assert.Null(_main.Manager.GetInfo(Group).Fence);
        await Volumes.WaitUntilAsync(() => _main.Manager.ResyncAsync(Group, default).Result.Ready, "the old main's resync");
        await CaughtUpAsync(_backup);
        await AssertSameAsync(_backup, _main);
    }

    /// <summary>The csi-addons controller's calls (volumereplication_controller.go): to make a site
    /// primary it enables, promotes without force and on FAILED_PRECONDITION at once with force;
    /// to make one secondary it demotes, demotes again on the next pass, then resyncs until ready.</summary>
    [Fact]
    public async Task The_controller_sequence_moves_the_role_back_and_forth_with_one_writable_primary_at_a_time()
    {
        await WriteAsync(_main, "sales", [1]);
        await _main.Manager.EnableAsync(Spec(_backup), default);
        await CaughtUpAsync(_main);
        var (primary, secondary) = (_main, _backup);
        for (var round = 1; round <= 3; round++)
        {
            await WriteAsync(primary, "stock", [round * 10]);
            await secondary.Manager.EnableAsync(Spec(primary), default);
            await Assert.ThrowsAsync<PeerIsPrimaryException>(() => secondary.Manager.PromoteAsync(Group, force: false, default));
            await secondary.Manager.PromoteAsync(Group, force: true, default);
            Assert.True(primary.Engine.GetVolume("sales").IsReadOnly, $"round {round}: the old primary is still writable");
            Assert.Equal(round + 1, secondary.Manager.GetInfo(Group).Epoch);
            await WriteAsync(secondary, "sales", [round * 10 + 1]);

            await primary.Manager.DemoteAsync(Group, default);
            await primary.Manager.DemoteAsync(Group, default);
            await Volumes.WaitUntilAsync(() => primary.Manager.ResyncAsync(Group, default).Result.Ready, $"round {round}: the resync");
            await CaughtUpAsync(secondary);
            await AssertSameAsync(secondary, primary);
            Assert.Equal(round + 1, primary.Manager.GetInfo(Group).Epoch);
            (primary, secondary) = (secondary, primary);
        }
    }

    [Fact]
    public async Task A_transition_while_another_runs_is_refused_as_busy()
    {
        await _main.Manager.EnableAsync(Spec(_backup), default);
        await CaughtUpAsync(_main);

        // The demotion drains until the backup has applied the write, which it cannot while its
        // group is held: it is still running when the promotion comes. The hold comes before the
        // write: a write the backup had applied already leaves nothing to drain, and the demotion
        // then ends inside DemoteAsync, before anyone could see it run.
        Task demote;
        using (new TestSupport.GroupHold(_backup.Engine.GetVolume("sales").Group))
        {
            await WriteAsync(_main, "sales", [1]);
            demote = _main.Manager.DemoteAsync(Group, default);
            await Volumes.WaitUntilAsync(() => _main.Manager.GetInfo(Group).Fence is { Demoting: true }, "the demotion to begin");
            await Assert.ThrowsAsync<ReplicationBusyException>(() => _main.Manager.PromoteAsync(Group, force: true, default));
        }
        await demote;
        Assert.Equal(ReplicationState.Demoted, _main.Manager.GetInfo(Group).State);
        await Assert.ThrowsAsync<ReplicationNotFoundException>(() => _main.Manager.DemoteAsync("no-such-group", default));
    }

    [Fact]
    public async Task Roles_and_configuration_survive_a_restart()
    {
        await _main.Manager.EnableAsync(Spec(_backup), default);
        await CaughtUpAsync(_main);

        await _main.RestartManagerAsync();
        await _backup.RestartManagerAsync();
        await WriteAsync(_main, "stock", [3, 4]);
        await CaughtUpAsync(_main);
        await AssertSameAsync(_main, _backup);
        Assert.Equal(ReplicationRole.Primary, _main.Manager.GetInfo(Group).Role);
        Assert.Equal(ReplicationRole.Secondary, _backup.Manager.GetInfo(Group).Role);
    }

    [Fact]
    public async Task Destination_ids_are_known_after_a_restart_while_the_other_site_is_down()
    {
        await _main.Manager.EnableAsync(Spec(_backup), default);
        await CaughtUpAsync(_main);
        var atMain = _main.Manager.DestinationOf(Group);
        var atBackup = _backup.Manager.DestinationOf(Group);

        // The backup's link down, the main restarts: no receiver answers its shippers.
        await _backup.StopLinkAsync();
        await _main.RestartManagerAsync();
        AssertSameDestination(atMain, _main.Manager.DestinationOf(Group));

        // The main's shippers stopped, the backup restarts: no shipper's Open reaches it.
        await _main.Manager.DisposeAsync();
        await _backup.RestartManagerAsync();
        AssertSameDestination(atBackup, _backup.Manager.DestinationOf(Group));
    }

    [Fact]
    public async Task Per_volume_mode_replicates_each_volume_as_a_group_of_one()
    {
        await WriteAsync(_main, "sales", [1]);
        await WriteAsync(_main, "stock", [2]);
        await _main.Manager.EnableAsync(Spec(_backup) with { Mode = ReplicationModeKind.PerVolume, GroupName = null }, default);
        await CaughtUpAsync(_main);
        await WriteAsync(_main, "stock", [3]);
        await CaughtUpAsync(_main);
        await AssertSameAsync(_main, _backup);
        Assert.Null(_backup.Engine.GetVolume("sales").ConsistencyGroup);
        Assert.NotEqual(_backup.Engine.GetVolume("sales").Group, _backup.Engine.GetVolume("stock").Group);
        Assert.Equal(ReplicationModeKind.PerVolume, _backup.Manager.GetInfo(Group).Mode);
    }

    private static void AssertSameDestination((string ReplicationId, IReadOnlyDictionary<string, string> VolumeIds) expected, (string ReplicationId, IReadOnlyDictionary<string, string> VolumeIds) actual)
    {
        Assert.Equal(expected.ReplicationId, actual.ReplicationId);
        Assert.Equal(expected.VolumeIds, actual.VolumeIds);
    }

    private static ReplicationSpec Spec(TestSite peer) => new(Group, ["sales", "stock"], Group, peer.Address);

    private static async Task WriteAsync(TestSite site, string volumeId, int[] blocks)
    {
        var volume = site.Engine.GetVolume(volumeId);
        foreach (var block in blocks)
        {
            await volume.WriteAsync(block * 4096L, Volumes.Block(block + 1), fua: false);
        }
    }

    /// <summary>The primary's backup has applied everything the primary's journal holds now.</summary>
    private static Task CaughtUpAsync(TestSite primary)
    {
        var journal = primary.Engine.GetVolume("sales").Group;
        // A completed initial sync is at a cut record, so at least at sequence 1.
        var last = Math.Max(primary.Engine.GetJournalStatus(journal).LastSequence, 1);
        return Volumes.WaitUntilAsync(() =>
        {
            var info = primary.Manager.GetInfo(Group);
            return info.AppliedSequence >= last && info.State == ReplicationState.Replicating;
        }, $"{primary.SiteId}'s backup to apply through {last}");
    }

    private static async Task AssertSameAsync(TestSite source, TestSite replica)
    {
        foreach (var volumeId in new[] { "sales", "stock" })
        {
            var expected = await Volumes.ReadAllAsync(source.Engine.GetVolume(volumeId));
            var actual = await Volumes.ReadAllAsync(replica.Engine.GetVolume(volumeId));
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{volumeId} differs between {source.SiteId} and {replica.SiteId}");
        }
    }
}
