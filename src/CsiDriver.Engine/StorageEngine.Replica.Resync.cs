using System.Security.Cryptography;
using System.Text;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Layers;
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
/// <c>protect-&lt;volume id&gt;</c>, holding the image at the protected position.</item>
/// </list>
/// Each transition is ordered so that a crash between its steps leaves one of these: begin takes
/// the snapshots before its record; complete deletes them after its record is durable; abort
/// switches the tops (catalog) before its record.
/// </summary>
public sealed partial class StorageEngine
{
    private const string ProtectivePrefix = "protect-";

    /// <summary>Id of the snapshot that protects the volume's last consistent image during a
    /// resync (front ends hide these from their snapshot lists).</summary>
    public static string ProtectiveSnapshotId(string volumeId) =>
        ProtectivePrefix.Length + volumeId.Length <= VolumeIds.MaxLength
            ? ProtectivePrefix + volumeId
            : ProtectivePrefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(volumeId)));

    /// <summary>Starts a resync: takes the protective group snapshot of every member (one cut;
    /// constant time), then journals the Resyncing mark with the position to return to. Already
    /// resyncing: nothing to do (the protection taken first stays).</summary>
    public void BeginReplicaResync(string journal)
    {
        lock (_checkpointLock)
        lock (_structure)
        {
            var group = GetGroup(journal);
            var state = group.Replica ?? default;
            if (state.Resyncing)
            {
                return;
            }
            DeleteProtectiveSnapshots(group);
            if (group.Members.Count > 0)
            {
                CreateGroupSnapshot(group.Members.Select(v => (v.Id, ProtectiveSnapshotId(v.Id))).ToList(), out _);
            }
            var resyncing = state with
            {
                Resyncing = true,
                ProtectedSequence = state.SourceSequence,
                ProtectedTimestampMicros = state.SourceTimestampMicros,
            };
            group.Commit.WaitDurable(AppendState(group, resyncing));
        }
    }

    /// <summary>Writes whole-chunk data (or zero ranges, or a new size) of the resync into the
    /// replicas, journaled as ordinary records; the position does not change. Durable on return.</summary>
    /// <exception cref="ReplicaNotResyncingException">No resync is in progress.</exception>
    public async ValueTask WriteReplicaChunksAsync(string journal, IReadOnlyList<ReplicaUpdate> chunks, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        ConsistencyGroup group;
        long last;
        lock (_structure)
        {
            group = GetGroup(journal);
            var volumes = ResolveUpdates(group, chunks);
            using var pause = new GroupPause([group]);
            if (group.Replica is not { Resyncing: true })
            {
                throw new ReplicaNotResyncingException(journal, "writing resync chunks");
            }
            CheckMembers(group, volumes);
            last = group.Journal.LastSequence;
            for (var i = 0; i < volumes.Count; i++)
            {
                last = AppendResyncUpdate(group, volumes[i], chunks[i]);
            }
            if (chunks.Any(c => c.Kind == JournalRecordKind.Resize))
            {
                SaveCatalog();
            }
        }
        await group.Commit.WaitDurableAsync(last).ConfigureAwait(false);
    }

    /// <summary>Ends the resync at the main-site position <paramref name="at"/> (one record, so the
    /// replicas and the position become current together), then drops the protective snapshots.
    /// Completing again at the same position is a no-op.</summary>
    /// <exception cref="ReplicaNotResyncingException">No resync is in progress (and the group is not at <paramref name="at"/>).</exception>
    public async ValueTask CompleteReplicaResyncAsync(string journal, ReplicaPosition at, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(at);
        ct.ThrowIfCancellationRequested();
        ConsistencyGroup group;
        long sequence;
        lock (_structure)
        {
            group = GetGroup(journal);
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
                throw new ReplicaNotResyncingException(journal, "completing a resync");
            }
        }
        await group.Commit.WaitDurableAsync(sequence).ConfigureAwait(false);
        lock (_checkpointLock)
        lock (_structure)
        {
            if (group.Replica is not { Resyncing: true })
            {
                DeleteProtectiveSnapshots(group); // unless a new resync began meanwhile
            }
        }
    }

    /// <summary>
    /// Abandons a resync (forced promotion during one): every member returns to its protective
    /// snapshot's image — its top becomes a new empty layer over the snapshot's layer, nothing is
    /// copied — and the position goes back to the protected one. A member that joined during the
    /// resync has no protection and starts empty. No-op when not resyncing.
    /// </summary>
    public void AbortReplicaResync(string journal)
    {
        lock (_checkpointLock)
        lock (_structure)
        {
            var group = GetGroup(journal);
            if (group.Replica is not { Resyncing: true } state)
            {
                DeleteProtectiveSnapshots(group);
                return;
            }
            var leaving = new List<Layer>();
            long sequence;
            using (var pause = PauseCheckpointed(group))
            {
                foreach (var volume in group.Members)
                {
                    var protection = FindProtectiveSnapshot(volume);
                    var next = NewLayer(protection?.Layer, volume.Size);
                    var old = volume.Top;
                    old.Owner = null;
                    StartTop(volume, next, group);
                    leaving.Add(old);
                }
                SaveCatalog();
                sequence = AppendState(group, new ReplicaState(state.ProtectedSequence, state.ProtectedTimestampMicros, false, 0, 0));
            }
            leaving.SelectMany(Unlink).ToList().ForEach(layer => layer.DeleteFiles());
            group.Commit.WaitDurable(sequence);
            DeleteProtectiveSnapshots(group);
        }
    }

    /// <summary>Checkpoints, then pauses the group with no record after the checkpoint: records
    /// are replayed into the topmost layer that started before them, so before a top is cut out
    /// of its chain none of its records may need replaying (they would land in the protected
    /// layer). Caller holds the checkpoint and structure locks; only replica applies could
    /// append meanwhile, and those are refused while resyncing.</summary>
    private GroupPause PauseCheckpointed(ConsistencyGroup group)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            CheckpointHeld();
            var pause = new GroupPause([group]);
            if (group.Journal.LastSequence == group.CheckpointSequence)
            {
                return pause;
            }
            pause.Dispose();
        }
        throw new InvalidOperationException($"replica group '{group.JournalName}' kept being written while its resync was aborted");
    }

    private long AppendResyncUpdate(ConsistencyGroup group, Volume volume, ReplicaUpdate update)
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

    /// <summary>Journals a new replica state and makes it current. Caller holds the structure lock.</summary>
    private long AppendState(ConsistencyGroup group, ReplicaState state)
    {
        long sequence;
        using (new GroupPause([group]))
        {
            sequence = group.Journal.Append(JournalRecordKind.ReplicaState, 0, 0, 0, state.ToBytes(), group.Journal.NowMicros());
            group.Replica = state;
        }
        SignalReplicaChanged(group);
        return sequence;
    }

    private Snapshot? FindProtectiveSnapshot(Volume volume) =>
        FindSnapshot(ProtectiveSnapshotId(volume.Id)) is { } snapshot && snapshot.VolumeId == volume.Id ? snapshot : null;

    /// <summary>Deletes the protective snapshots of the group's members, and those of volumes
    /// deleted since (nothing can return to them). Caller holds the checkpoint and structure locks.</summary>
    private void DeleteProtectiveSnapshots(ConsistencyGroup group)
    {
        var protective = _snapshots.Values.Where(s => s.Id == ProtectiveSnapshotId(s.VolumeId)
            && (FindVolume(s.VolumeId) is not { } volume || volume.Group == group)).ToList();
        foreach (var snapshot in protective)
        {
            DeleteSnapshot(snapshot.Id);
        }
    }

    /// <summary>On open: protective snapshots of groups not resyncing are what a crash inside
    /// begin, complete or abort left behind.</summary>
    private void RemoveStaleProtectiveSnapshots()
    {
        lock (_checkpointLock)
        lock (_structure)
        {
            foreach (var group in _groups.Values.Where(g => g.Replica is not { Resyncing: true }).ToList())
            {
                DeleteProtectiveSnapshots(group);
            }
        }
    }

    /// <summary>Snapshots and clones of a resyncing replica would not be a consistent image.</summary>
    private static void CheckNotResyncing(ConsistencyGroup group, string operation)
    {
        if (group.Replica is { Resyncing: true })
        {
            throw new ReplicaResyncingException(group.JournalName, operation);
        }
    }
}
