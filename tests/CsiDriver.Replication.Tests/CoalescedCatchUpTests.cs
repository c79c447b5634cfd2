using CsiDriver.Engine;
using CsiDriver.Replication;
using CsiDriver.TestSupport;

namespace CsiDriver.Replication.Tests;

/// <summary>A catch-up by one coalesced cut: the backlog outgrew the shipper's coalescing floor
/// and the volume, so the main ships the chunks it changed from a group snapshot, planned while
/// the link was down (BacklogPlan). The journal
/// consumer's reset to the cut needs a checkpoint, which can hold the checkpoint lock for a long
/// time when it writes back a large backlog: the chunks must not wait for it.</summary>
public sealed class CoalescedCatchUpTests : IAsyncLifetime
{
    /// <summary>Past <see cref="ShipperSettings.CoalesceBacklogBytes"/> (64 MiB) and many times the volume.</summary>
    private const int BacklogMiB = 72;

    private readonly SiteLinkCertificates _certificates = new();
    private TestSite _main = null!;
    private TestSite _backup = null!;

    public async Task InitializeAsync()
    {
        _main = new TestSite("main", _certificates.Main);
        _backup = new TestSite("backup", _certificates.Backup);
        await _main.StartLinkAsync();
        await _backup.StartLinkAsync();
    }

    public async Task DisposeAsync()
    {
        await _main.DisposeAsync();
        await _backup.DisposeAsync();
        _certificates.Dispose();
    }

    [Fact]
    public async Task The_chunks_of_a_coalesced_catch_up_are_shipped_while_a_checkpoint_holds_the_consumer_reset()
    {
        var volume = _main.Engine.CreateVolume("solo", Volumes.Size);
        await _main.Manager.EnableAsync(new ReplicationSpec("solo", ["solo"], null, _backup.Address), default);
        await CaughtUpAsync();

        await _backup.StopLinkAsync();
        var piece = new byte[1 << 20];
        for (var i = 0; i < BacklogMiB; i++)
        {
            Random.Shared.NextBytes(piece);
            await volume.WriteAsync(i * piece.Length % Volumes.Size, piece, fua: false);
        }
        await volume.FlushAsync();
        // The shipper reads the backlog into the catch-up's plan between its reconnect attempts.
        var backlog = _main.Engine.GetJournalStatus(volume.Group).LastSequence;
        await Volumes.WaitUntilAsync(() => _main.Manager.GetInfo("solo").BacklogPlannedThrough >= backlog,
            $"the catch-up planned through {backlog} while the link is down", seconds: 60);

        var chunks = Volumes.Size / ChunkRange.ChunkSize;
        using (new CheckpointHold(_main.Engine))
        {
            await _backup.StartLinkAsync();
            await Volumes.WaitUntilAsync(() => _main.Manager.GetInfo("solo").Resync is { ChunksTotal: > 0 } resync && resync.ChunksDone == resync.ChunksTotal,
                "every chunk of the coalesced cut shipped while the checkpoint lock is held", seconds: 60);
            Assert.Equal(chunks, _main.Manager.GetInfo("solo").Resync.ChunksTotal);
            // Not complete before the reset: batches after the cut need the consumer there.
            Assert.Equal(ReplicationState.Resyncing, _main.Manager.GetInfo("solo").State);
        }
        await CaughtUpAsync();
        Assert.Equal(chunks, _main.Manager.GetInfo("solo").LastResyncChunks);
        var expected = await Volumes.ReadAllAsync(volume);
        var replica = await Volumes.ReadAllAsync(_backup.Engine.GetVolume("solo"));
        Assert.True(expected.AsSpan().SequenceEqual(replica), "the replica differs from the source");
    }

    private Task CaughtUpAsync()
    {
        var journal = _main.Engine.GetVolume("solo").Group;
        var last = _main.Engine.GetJournalStatus(journal).LastSequence;
        return Volumes.WaitUntilAsync(() =>
        {
            var info = _main.Manager.GetInfo("solo");
            return info.AppliedSequence >= last && info.State == ReplicationState.Replicating;
        }, $"the backup to apply through {last}", seconds: 60);
    }
}
