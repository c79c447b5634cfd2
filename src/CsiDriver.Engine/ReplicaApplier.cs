using System.Buffers;
using System.Collections.Concurrent;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Layers;
using CsiDriver.Engine.Replication;

namespace CsiDriver.Engine;

/// <summary>
/// The backup site's side of replication: replica groups apply the main site's journal in
/// batches. A replica group is an ordinary consistency group whose volumes are read-only to
/// everyone but this component; its state (<see cref="ReplicaState"/>, held on the group) is
/// journaled with the data, so after any crash the replicas equal the main site's group at the
/// recovered position.
/// <para>State: each group's replica state, changed only while the group is paused, and the
/// waiters for a change. Lock: none of its own. It calls down: the checkpointer's lock first
/// (resync begin and abort), then the catalog's (<see cref="Catalog.Hold"/>), then the group's pause.</para>
/// </summary>
internal sealed partial class ReplicaApplier(Catalog catalog, Checkpointer checkpointer)
{
    /// <summary>Per group: completed (and removed) when its replica state changes next.</summary>
    private readonly ConcurrentDictionary<ConsistencyGroup, TaskCompletionSource> _changed = new();

    /// <summary>How far the replica group has applied; <see cref="ReplicaPosition.None"/> before its first batch.</summary>
    public ReplicaPosition Position(ConsistencyGroup group) => (catalog.Require(group).Replica ?? default).Position;

    /// <summary>Waits until the replica group is not resyncing and its position satisfies
    /// <paramref name="reached"/> (e.g. a sequence or main-site time no older than asked): for a
    /// backup snapshot that must include everything up to a point. Bounded by <paramref name="ct"/>.</summary>
    public async ValueTask<ReplicaPosition> WaitForPositionAsync(ConsistencyGroup group, Func<ReplicaPosition, bool> reached, CancellationToken ct)
    {
        while (true)
        {
            // Taken before the position is read: a change after the read completes it.
            var changed = _changed.GetOrAdd(group, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            var position = Position(group);
            if (!position.Resyncing && reached(position))
            {
                return position;
            }
            await changed.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>Creates a replica volume: like <see cref="Catalog.CreateVolume"/>, but read-only
    /// from the start (one catalog write), so nothing but the applier ever writes it.</summary>
    public Volume CreateVolume(string volumeId, long capacityBytes, string? consistencyGroup) =>
        catalog.CreateVolume(volumeId, capacityBytes, consistencyGroup, volume =>
        {
            volume.SetReadOnly(true);
            using (new GroupPause([volume.Group]))
            {
                volume.Group.Replica ??= default; // a replica group from now on, at position 0
            }
        });

    /// <summary>Main-site time (unix µs) of the journal's record <paramref name="sequence"/>, or
    /// null when it was released or not written yet: what a replication position carries.</summary>
    public long? RecordTimestampMicros(ConsistencyGroup group, long sequence)
    {
        var source = catalog.Require(group).Journal;
        if (sequence < 1 || sequence > source.LastSequence || sequence < source.FirstSequence)
        {
            return null;
        }
        try
        {
            foreach (var (header, _) in source.Read(sequence))
            {
                return header.TimestampMicros;
            }
        }
        catch (OutOfRangeException)
        {
            // released meanwhile
        }
        return null;
    }

    /// <summary>
    /// Applies <paramref name="batch"/> atomically and returns the new position once it is
    /// durable. ONE journal record (kind ReplicaBatch) holds every update and the new position,
    /// so recovery replays all of it or none; it is appended, synced and only then applied, all
    /// while the group is paused, so no reader of the replicas and no snapshot sees half a batch
    /// and a batch lost with a torn journal tail never reached the data files. Writes into the
    /// read-only replica volumes. A batch already applied (LastSequence at or below the
    /// position) is ignored.
    /// </summary>
    /// <exception cref="ReplicaSequenceException">AfterSequence is not the position (a gap); nothing changed.</exception>
    /// <exception cref="ReplicaResyncingException">The group is being resynced.</exception>
    /// <exception cref="ArgumentException">An update is malformed, names a volume outside the group,
    /// or the encoded batch exceeds the journal's record limit (32 MiB).</exception>
    public async ValueTask<ReplicaPosition> ApplyBatchAsync(ConsistencyGroup group, ReplicaBatch batch, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.LastSequence < batch.AfterSequence || batch.AfterSequence < 0)
        {
            throw new ArgumentException($"batch ({batch.AfterSequence}, {batch.LastSequence}] is not a sequence range", nameof(batch));
        }
        var size = ReplicaBatchRecord.SizeOf(batch.Updates);
        if (size > JournalFormat.MaxPayload)
        {
            throw new ArgumentException($"batch of {size} bytes exceeds the {JournalFormat.MaxPayload}-byte record limit; split it", nameof(batch));
        }
        ct.ThrowIfCancellationRequested();
        (long DurableAt, ReplicaPosition Position) applied;
        if (batch.Updates.Any(u => u.Kind == JournalRecordKind.Resize))
        {
            // A new size goes into the catalog, which needs its lock (taken before the pause).
            using (catalog.Hold())
            {
                applied = AppendBatch(group, ResolveUpdates(group, batch.Updates), batch, saveCatalog: true);
            }
        }
        else
        {
            List<Volume> volumes;
            using (catalog.Hold())
            {
                volumes = ResolveUpdates(group, batch.Updates);
            }
            applied = AppendBatch(group, volumes, batch, saveCatalog: false);
        }
        SignalChanged(group);
        await group.Commit.WaitDurableAsync(applied.DurableAt).ConfigureAwait(false);
        return applied.Position;
    }

    /// <summary>Journals and applies the batch under a pause of the group; returns the sequence
    /// to wait for (for a duplicate: the newest, so its position is durable too).</summary>
    private (long, ReplicaPosition) AppendBatch(ConsistencyGroup group, List<Volume> volumes, ReplicaBatch batch, bool saveCatalog)
    {
        using var pause = new GroupPause([group]);
        var state = group.Replica ?? default;
        if (state.Resyncing)
        {
            throw new ReplicaResyncingException(group.JournalName, "applying a batch");
        }
        if (batch.LastSequence <= state.SourceSequence)
        {
            return (group.Journal.LastSequence, state.Position);
        }
        if (batch.AfterSequence != state.SourceSequence)
        {
            throw new ReplicaSequenceException(group.JournalName, state.SourceSequence, batch.AfterSequence);
        }
        CheckMembers(group, volumes);
        // Batches run to tens of MiB: the encoded record goes through a pooled buffer, not a new array each time.
        var size = (int)ReplicaBatchRecord.SizeOf(batch.Updates);
        var payload = ArrayPool<byte>.Shared.Rent(size);
        long sequence;
        try
        {
            ReplicaBatchRecord.Write(payload, batch, volumes.Select(v => v.Number).ToArray());
            sequence = group.Journal.Append(JournalRecordKind.ReplicaBatch, 0, 0, 0, payload.AsMemory(0, size), group.Journal.NowMicros());
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(payload);
        }
        // Durable before it touches a data file: a batch cut off with a torn tail after a power
        // loss must leave no trace, and data files may reach the disk before the journal does.
        // Still paused, so no snapshot cut can fall between the record and its application.
        group.Commit.WaitDurable(sequence); // possibly while paused: a replica group's only writer is the applier
        for (var i = 0; i < volumes.Count; i++)
        {
            var update = batch.Updates[i];
            ApplyUpdate(volumes[i], update.Kind, update.Offset, update.Length, update.Payload.Span);
        }
        var next = state with { SourceSequence = batch.LastSequence, SourceTimestampMicros = batch.SourceTimestampMicros };
        group.Replica = next;
        if (saveCatalog)
        {
            catalog.Save(); // inside the pause, as ExpandVolume: no record past the old end before the size is durable
        }
        return (sequence, next.Position);
    }

    /// <summary>Checks every update before anything is changed and finds its volume. Caller holds the catalog's lock.</summary>
    private List<Volume> ResolveUpdates(ConsistencyGroup group, IReadOnlyList<ReplicaUpdate> updates)
    {
        catalog.Require(group);
        var volumes = new List<Volume>(updates.Count);
        var sizes = new Dictionary<Volume, long>();
        foreach (var update in updates)
        {
            var volume = catalog.GetVolume(update.VolumeId);
            if (volume.Group != group)
            {
                throw new ArgumentException($"volume '{update.VolumeId}' is not in replica group '{group}'", nameof(updates));
            }
            var size = sizes.GetValueOrDefault(volume, volume.Size);
            var valid = update.Kind switch
            {
                JournalRecordKind.Write => update.Payload.Length == update.Length && InRange(update, size),
                JournalRecordKind.Trim or JournalRecordKind.WriteZeroes => update.Payload.IsEmpty && InRange(update, size),
                JournalRecordKind.Resize => update.Payload.IsEmpty && update.Length > 0 && update.Length % VolumeIds.BlockSize == 0,
                _ => false,
            };
            if (!valid)
            {
                throw new ArgumentException($"update {update.Kind} [{update.Offset}, +{update.Length}) with {update.Payload.Length} data bytes does not fit volume '{volume.Id}' of {size} bytes", nameof(updates));
            }
            if (update.Kind == JournalRecordKind.Resize)
            {
                sizes[volume] = Math.Max(size, update.Length);
            }
            volumes.Add(volume);
        }
        return volumes;

        static bool InRange(ReplicaUpdate u, long size) => u.Offset >= 0 && u.Length >= 0 && u.Offset + u.Length <= size;
    }

    /// <summary>A member deleted or moved between resolving and pausing would take the update elsewhere.</summary>
    private static void CheckMembers(ConsistencyGroup group, IEnumerable<Volume> volumes)
    {
        foreach (var volume in volumes.Distinct())
        {
            if (!group.Members.Contains(volume))
            {
                throw new VolumeNotFoundException(volume.Id);
            }
        }
    }

    /// <summary>Applies one update to the volume's top layer, past its read-only flag. Caller
    /// has paused the volume's group (which holds its apply lock).</summary>
    private static void ApplyUpdate(Volume volume, JournalRecordKind kind, long offset, long length, ReadOnlySpan<byte> data)
    {
        switch (kind)
        {
            case JournalRecordKind.Write or JournalRecordKind.Trim or JournalRecordKind.WriteZeroes:
                LayerChain.Apply(volume.Top, volume.Size, kind, offset, length, data);
                break;
            case JournalRecordKind.Resize when length > volume.Size:
                volume.Top.Map.Grow(Catalog.ChunksFor(length));
                volume.Top.SizeBytes = length;
                volume.SetSize(length);
                break;
        }
    }

    /// <summary>Wakes the waiters of <see cref="WaitForPositionAsync"/>; called after the state changed.</summary>
    private void SignalChanged(ConsistencyGroup group)
    {
        if (_changed.TryRemove(group, out var changed))
        {
            changed.TrySetResult();
        }
    }
}
