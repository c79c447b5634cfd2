using System.Security.Cryptography;
using System.Text;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Replication;

namespace CsiDriver.Engine;

/// <summary>
/// Resync of a replica group (initial sync, delta resync after an overrun, failback): while it
/// runs the replicas are not a prefix image of the main site, so the last consistent image is
/// kept in protective snapshots until the resync completes or is abandoned.
/// Crash-safety invariant (state = checkpoint + ReplicaState/ReplicaBatch records replayed):
/// <list type="bullet">
/// <item>not resyncing ⇒ the members' tops are the image at the state's position (protective
/// snapshots, if any are left, are stale and deleted on open or at the next begin);</item>
/// <item>resyncing ⇒ every member that was in the group at the begin has its protective snapshot
/// (purpose <see cref="SnapshotPurpose.ResyncProtection"/>), holding the image at the protected position.</item>
/// </list>
/// Each transition is ordered so that a crash between its steps leaves one of these: begin takes
/// the snapshots before its record; complete deletes them after its record is durable; abort
/// switches the tops (catalog) before its record.
/// </summary>
internal sealed partial class ReplicaApplier
{
    private const string ProtectivePrefix = "protect-";

    /// <summary>Id given to the snapshot that protects the volume's last consistent image during
    /// a resync: one a person reading a listing recognises (what it is, is its purpose).</summary>
    public static string ProtectiveSnapshotId(string volumeId) =>
        ProtectivePrefix.Length + volumeId.Length <= VolumeIds.MaxLength
            ? ProtectivePrefix + volumeId
            : ProtectivePrefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(volumeId)));

    /// <summary>Starts a resync: takes the protective group snapshot of every member (one cut;
    /// constant time), then journals the Resyncing mark with the position to return to. Already
    /// resyncing: the protection taken first stays. <paramref name="fromNothing"/> (the resync
    /// sends every chunk the source holds) restarts the members in empty tops over nothing, so a
    /// chunk the source does not hold reads as zeroes here too, not as the protected image's.</summary>
    public void BeginResync(ConsistencyGroup group, bool fromNothing = false)
    {
        using (checkpointer.Exclusive())
        using (catalog.Hold())
        {
            catalog.Require(group);
            var state = group.Replica ?? default;
            if (state.Resyncing)
            {
                RestartEmptyIf(fromNothing, group);
                return;
            }
            DeleteProtectiveSnapshots(group);
            if (group.Members.Count > 0)
            {
                catalog.CreateGroupSnapshot(group.Members.Select(v => (v.Id, ProtectiveSnapshotId(v.Id))).ToList(), SnapshotPurpose.ResyncProtection, out _);
            }
            var resyncing = state with
            {
                Resyncing = true,
                ProtectedSequence = state.SourceSequence,
                ProtectedTimestampMicros = state.SourceTimestampMicros,
            };
            group.Commit.WaitDurable(AppendState(group, resyncing));
            RestartEmptyIf(fromNothing, group);
        }
    }

    /// <summary>Puts every member in a new empty top over nothing (the former tops dropped), when
    /// <paramref name="fromNothing"/>. Only while resyncing: the protection keeps the last
    /// consistent image, and an abort returns to it. Caller holds the checkpoint and catalog locks.</summary>
    private void RestartEmptyIf(bool fromNothing, ConsistencyGroup group)
    {
        if (!fromNothing)
        {
            return;
        }
        IReadOnlyList<Layers.Layer> former;
        using (PauseCheckpointed(group))
        {
            former = catalog.RestartTops(group, _ => null);
        }
        catalog.Drop(former);
    }

    /// <summary>Writes whole-chunk data (or zero ranges, or a new size) of the resync into the
    /// replicas, journaled as ordinary records; the position does not change. Written (in the
    /// order of the calls) when the call returns; durable when the task completes. The sync runs
    /// on the thread pool, not on the caller's thread, so the caller can write the next chunks
    /// meanwhile (a resync's chunk writes need no sync between them: the replicas are protected
    /// until the ResyncComplete record, which is durable only after every chunk's record).</summary>
    /// <exception cref="ReplicaNotResyncingException">No resync is in progress.</exception>
    public ValueTask WriteResyncChunksAsync(ConsistencyGroup group, IReadOnlyList<ReplicaUpdate> chunks, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        long last;
        using (catalog.Hold())
        {
            var volumes = ResolveUpdates(group, chunks);
            using var pause = new GroupPause([group]);
            if (group.Replica is not { Resyncing: true })
            {
                throw new ReplicaNotResyncingException(group.JournalName, "writing resync chunks");
            }
            CheckMembers(group, volumes);
            last = group.Journal.LastSequence;
            for (var i = 0; i < volumes.Count; i++)
            {
                last = AppendResyncUpdate(group, volumes[i], chunks[i]);
            }
            if (chunks.Any(c => c.Kind == JournalRecordKind.Resize))
            {
                catalog.Save();
            }
        }
        return group.Commit.DurableSequence >= last
            ? ValueTask.CompletedTask
            : new ValueTask(Task.Run(() => group.Commit.WaitDurableAsync(last).AsTask(), CancellationToken.None));
    }

    /// <summary>Ends the resync at the main-site position <paramref name="at"/> (one record, so the
    /// replicas and the position become current together); returns once that is durable.
    /// Completing again at the same position is a no-op. The protective snapshots are left for
    /// <see cref="DropResyncProtection"/>: deleting them waits for the checkpoint lock, which the
    /// checkpoint writing back the resync's data holds for a while, and the replicas are current
    /// without it (left behind by a crash, they are stale and go on open or at the next begin).</summary>
    /// <exception cref="ReplicaNotResyncingException">No resync is in progress (and the group is not at <paramref name="at"/>).</exception>
    public async ValueTask CompleteResyncAsync(ConsistencyGroup group, ReplicaPosition at, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(at);
        ct.ThrowIfCancellationRequested();
        long sequence;
        using (catalog.Hold())
        {
            catalog.Require(group);
            var state = group.Replica ?? default;
            if (state.Resyncing)
            {
                sequence = AppendState(group, new ReplicaState(at.SourceSequence, at.SourceTimestampMicros, false, 0, 0));
            }
            else if (state.SourceSequence == at.SourceSequence)
            {
                sequence = group.Journal.LastSequence;
            }
            else
            {
                throw new ReplicaNotResyncingException(group.JournalName, "completing a resync");
            }
        }
        await group.Commit.WaitDurableAsync(sequence).ConfigureAwait(false);
    }

    /// <summary>Deletes the protective snapshots of a completed resync; nothing while a resync
    /// runs (a new one began meanwhile and keeps its own).</summary>
    public void DropResyncProtection(ConsistencyGroup group)
    {
        using (checkpointer.Exclusive())
        using (catalog.Hold())
        {
            if (group.Replica is not { Resyncing: true })
            {
                DeleteProtectiveSnapshots(group);
            }
        }
    }

    /// <summary>
    /// Abandons a resync (forced promotion during one): every member returns to its protective
    /// snapshot's image — its top becomes a new empty layer over the snapshot's layer, nothing is
    /// copied — and the position goes back to the protected one. A member that joined during the
    /// resync has no protection and starts empty. No-op when not resyncing.
    /// </summary>
    public void AbortResync(ConsistencyGroup group)
    {
        using (checkpointer.Exclusive())
        using (catalog.Hold())
        {
            catalog.Require(group);
            if (group.Replica is not { Resyncing: true } state)
            {
                DeleteProtectiveSnapshots(group);
                return;
            }
            IReadOnlyList<Layers.Layer> former;
            long sequence;
            using (PauseCheckpointed(group))
            {
                former = catalog.RestartTops(group, FindProtectiveSnapshot);
                sequence = AppendState(group, new ReplicaState(state.ProtectedSequence, state.ProtectedTimestampMicros, false, 0, 0));
            }
            catalog.Drop(former);
            group.Commit.WaitDurable(sequence);
            DeleteProtectiveSnapshots(group);
        }
    }

    /// <summary>On open: protective snapshots of groups not resyncing are what a crash inside
    /// begin, complete or abort left behind.</summary>
    public void RemoveStaleProtection()
    {
        using (checkpointer.Exclusive())
        using (catalog.Hold())
        {
            foreach (var group in catalog.Groups.Where(g => g.Replica is not { Resyncing: true }))
            {
                DeleteProtectiveSnapshots(group);
            }
        }
    }

    /// <summary>Checkpoints, then pauses the group with no record after the checkpoint: records
    /// are replayed into the topmost layer that started before them, so before a top is cut out
    /// of its chain none of its records may need replaying (they would land in the protected
    /// layer). Caller holds the checkpoint and catalog locks; only replica applies could append
    /// meanwhile, and those are refused while resyncing.</summary>
    private GroupPause PauseCheckpointed(ConsistencyGroup group)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            checkpointer.CheckpointHeld();
            var pause = new GroupPause([group]);
            if (group.Journal.LastSequence == group.CheckpointSequence)
            {
                return pause;
            }
            pause.Dispose();
        }
        throw new InvalidOperationException($"replica group '{group}' kept being written while its resync was aborted");
    }

    /// <summary>Journals one resync update and applies it to the volume's top at once, before the
    /// record is durable: unlike a batch, which goes through the overlay (a data file never holds
    /// what its journal may still lose). A crash can then leave a top holding a chunk whose record
    /// it lost, and no image is wrong for it: while resyncing, the tops are no image anyone is
    /// given as one (batches are refused; the protective snapshots hold the last consistent one),
    /// and after a crash the group recovers still resyncing unless the complete record survived,
    /// which comes after every chunk record in the same journal, so then they all did and replay
    /// writes them again. A group that recovers still resyncing is resynced again (ShipperSession:
    /// a resyncing receiver gets a full resync; one awaiting failback the failback plan, made again
    /// from the same promotion snapshot) or aborted, which puts new empty tops over the protection.</summary>
    private static long AppendResyncUpdate(ConsistencyGroup group, Volume volume, ReplicaUpdate update)
    {
        long sequence = 0;
        var done = 0L;
        do
        {
            // Writes beyond one record's payload limit become several records, as on the data path.
            var part = update.Kind == JournalRecordKind.Write
                ? update.Payload.Slice((int)done, (int)Math.Min(JournalFormat.MaxPayload, update.Length - done))
                : ReadOnlyMemory<byte>.Empty;
            var length = update.Kind == JournalRecordKind.Write ? part.Length : update.Length;
            var offset = update.Kind == JournalRecordKind.Resize ? 0 : update.Offset + done;
            sequence = group.Journal.Append(update.Kind, volume.Number, offset, length, part, group.Journal.NowMicros());
            ApplyUpdate(volume, update.Kind, offset, length, part.Span);
            done += length;
        }
        while (update.Kind == JournalRecordKind.Write && done < update.Length);
        return sequence;
    }

    /// <summary>Journals a new replica state and makes it current. Caller holds the catalog's lock.</summary>
    private long AppendState(ConsistencyGroup group, ReplicaState state)
    {
        long sequence;
        using (new GroupPause([group]))
        {
            sequence = group.Journal.Append(JournalRecordKind.ReplicaState, 0, 0, 0, state.ToBytes(), group.Journal.NowMicros());
            group.Replica = state;
        }
        SignalChanged(group);
        return sequence;
    }

    private Snapshot? FindProtectiveSnapshot(Volume volume) =>
        catalog.Snapshots.FirstOrDefault(s => s.Purpose == SnapshotPurpose.ResyncProtection && s.VolumeId == volume.Id);

    /// <summary>Deletes the protective snapshots of the group's members, and those of volumes
    /// deleted since (nothing can return to them). Caller holds the checkpoint and catalog locks.</summary>
    private void DeleteProtectiveSnapshots(ConsistencyGroup group)
    {
        var protective = catalog.Snapshots.Where(s => s.Purpose == SnapshotPurpose.ResyncProtection
            && (catalog.FindVolume(s.VolumeId) is not { } volume || volume.Group == group)).ToList();
        foreach (var snapshot in protective)
        {
            catalog.DeleteSnapshot(snapshot.Id);
        }
    }
}
