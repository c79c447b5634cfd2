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
/// <para>State: each group's replica state, changed only under the group's gate (a batch) or
/// while the group is paused (which holds the gate), and the
/// waiters for a change. Lock: none of its own. It calls down: the checkpointer's lock first
/// (resync begin and abort), then the catalog's (<see cref="Catalog.Hold"/>), then the group's pause.</para>
/// </summary>
internal sealed partial class ReplicaApplier(Catalog catalog, Checkpointer checkpointer)
{
    /// <summary>Per group: completed (and removed) when its replica state changes next.</summary>
    private readonly ConcurrentDictionary<ConsistencyGroup, TaskCompletionSource> _changed = new();

    /// <summary>How far the replica group has applied, durably; <see cref="ReplicaPosition.None"/>
    /// before its first batch. A batch moves the state when its record is appended
    /// (<see cref="AppendBatch"/>): the position is told only once that record is durable, so a
    /// shipper resuming from it never skips a batch a power cut would take back.</summary>
    public ReplicaPosition Position(ConsistencyGroup group)
    {
        var state = catalog.Require(group).Replica ?? default;
        // Read after the state: the record that set it is at or before this sequence.
        var appended = group.Journal.LastSequence;
        if (group.Replica is not null && group.Commit.DurableSequence < appended)
        {
            group.Commit.WaitDurable(appended, applyHere: false);
        }
        return state.Position;
    }

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

    /// <summary>Applies <paramref name="batch"/> (<see cref="AppendBatch"/>) and returns the new
    /// position once it is durable.</summary>
    /// <inheritdoc cref="AppendBatch" path="/exception"/>
    public async ValueTask<ReplicaPosition> ApplyBatchAsync(ConsistencyGroup group, ReplicaBatch batch, CancellationToken ct)
    {
        var appended = AppendBatch(group, batch, ct);
        await appended.Durable.ConfigureAwait(false);
        return appended.Position;
    }

    /// <summary>
    /// Takes <paramref name="batch"/> atomically; returns once readers see it, with a task that
    /// completes when it is durable (the position may be acknowledged then, not before). ONE
    /// journal record (kind ReplicaBatch) holds every update and the new position, so recovery
    /// replays all of it or none. It goes the way of the main site's writes: under the group's
    /// gate (held for memory work and the append only) the record is appended, its updates are
    /// handed to the group's <see cref="WriteOverlay"/> all at once, and the replica state moves
    /// to the batch's position; the record's sync runs off the caller's thread and the overlay
    /// applies the updates to the layers in the background once it is durable. So the caller
    /// may hand over the next batch while this one syncs and is applied, and:
    /// <list type="bullet">
    /// <item>a data file never holds a batch its journal does not hold durably (the overlay's
    /// invariant);</item>
    /// <item>no reader, snapshot or checkpoint sees part of a batch: reads consult the overlay,
    /// which takes a record's updates together; a pause (snapshot, resync, promotion's
    /// read-only switch) holds the gate and drains the overlay, so it finds whole batches,
    /// applied, with the state that names them; a checkpoint's cut (not drained) names the
    /// state with the sequence its data files reflect, and the record past it is replayed,
    /// setting the same state;</item>
    /// <item>the position is told (<see cref="Position"/>, acknowledgements) only once durable.</item>
    /// </list>
    /// A batch that grows a volume is taken under a pause instead, synced there, the new sizes
    /// applied and the catalog saved inside it; its other updates go to the overlay as above.
    /// Writes into the read-only replica volumes. A batch already applied (LastSequence at or
    /// below the position) is ignored.
    /// </summary>
    /// <exception cref="ReplicaSequenceException">AfterSequence is not the position (a gap); nothing changed.</exception>
    /// <exception cref="ReplicaResyncingException">The group is being resynced.</exception>
    /// <exception cref="ArgumentException">An update is malformed, names a volume outside the group,
    /// or the encoded batch exceeds the journal's record limit (32 MiB).</exception>
    public ReplicaBatchAppended AppendBatch(ConsistencyGroup group, ReplicaBatch batch, CancellationToken ct)
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
        (long Sequence, ReplicaPosition Position) appended;
        if (batch.Updates.Any(u => u.Kind == JournalRecordKind.Resize))
        {
            // A new size goes into the catalog, which needs its lock (taken before the pause).
            using (catalog.Hold())
            using (new GroupPause([group]))
            {
                appended = Append(group, ResolveUpdates(group, batch.Updates), batch, grows: true);
            }
        }
        else
        {
            List<Volume> volumes;
            using (catalog.Hold())
            {
                volumes = ResolveUpdates(group, batch.Updates);
            }
            if (group.Overlay.IsFull)
            {
                group.Overlay.WaitForRoom(); // applies on this thread: the overlay's bound holds the backup back
            }
            lock (group.Gate)
            {
                appended = Append(group, volumes, batch, grows: false);
            }
        }
        return new ReplicaBatchAppended(appended.Position, WhenDurable(group, appended.Sequence));
    }

    /// <summary>Journals the batch and makes it visible, the state moving with it; returns the
    /// sequence to wait for (for a duplicate: the newest, so its position is durable too).
    /// Caller holds the group's gate (a pause when <paramref name="grows"/>: such a batch is
    /// synced and its volumes grown here, the overlay drained before it).</summary>
    private (long, ReplicaPosition) Append(ConsistencyGroup group, List<Volume> volumes, ReplicaBatch batch, bool grows)
    {
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
        // Batches run to tens of MiB: the record is written from the updates' own buffers (their
        // headers in a pooled buffer), not copied into one buffer first (that copy was ~5 % of the
        // backup's CPU applying 4 KiB writes).
        var headers = ArrayPool<byte>.Shared.Rent(ReplicaBatchRecord.HeadersSize(batch.Updates.Count));
        var pieces = ArrayPool<ReadOnlyMemory<byte>>.Shared.Rent(ReplicaBatchRecord.MaxPieces(batch.Updates.Count));
        long sequence;
        try
        {
            var count = ReplicaBatchRecord.Gather(batch, volumes.Select(v => v.Number).ToArray(), headers, pieces);
            sequence = group.Journal.Append(JournalRecordKind.ReplicaBatch, 0, 0, 0, new ArraySegment<ReadOnlyMemory<byte>>(pieces, 0, count), group.Journal.NowMicros());
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(headers);
            ArrayPool<ReadOnlyMemory<byte>>.Shared.Return(pieces, clearArray: true); // holds no payload past the append
        }
        if (grows)
        {
            // Durable before the catalog names a new size (a power cut could otherwise keep the
            // size and lose the record). From here to the state's move only memory changes: a
            // durable batch must move the position, or the main site's resend of it (after a
            // data file found no space, say) would be journaled again, once per resend. Its
            // data updates go to the overlay, which applies them once durable (the data files'
            // invariant stated there) and keeps them pending while a data file has no room.
            group.Commit.WaitDurable(sequence); // while paused: a replica group's only writer is the applier
            var (dataVolumes, dataUpdates) = Grow(volumes, batch.Updates);
            group.Overlay.AddRecord(sequence, dataVolumes, dataUpdates);
        }
        else
        {
            group.Overlay.AddRecord(sequence, volumes, batch.Updates);
        }
        var next = state with { SourceSequence = batch.LastSequence, SourceTimestampMicros = batch.SourceTimestampMicros };
        group.Replica = next;
        if (grows)
        {
            catalog.Save(); // inside the pause, as ExpandVolume: no record past the old end before the size is durable
        }
        return (sequence, next.Position);
    }

    /// <summary>Completes once <paramref name="sequence"/> is durable, its waiters then woken. The
    /// sync runs on the thread pool (or joins the one in flight), and what it made durable is
    /// applied in the background, so the caller goes on with the next batch meanwhile.</summary>
    private Task WhenDurable(ConsistencyGroup group, long sequence)
    {
        if (group.Commit.DurableSequence >= sequence)
        {
            SignalChanged(group);
            return Task.CompletedTask;
        }
        return Task.Run(async () =>
        {
            await group.Commit.WaitDurableAsync(sequence, applyHere: false).ConfigureAwait(false);
            SignalChanged(group);
        });
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

    /// <summary>Grows the volumes by the batch's resizes (in memory: no file is touched; a size
    /// never shrinks) and returns its other updates, in order, with their volumes. Grown first:
    /// a resize only adds zeros at the end, so the updates before it apply the same after it.
    /// Caller has paused the group (which holds the volumes' apply locks).</summary>
    private static (List<Volume>, List<ReplicaUpdate>) Grow(List<Volume> volumes, IReadOnlyList<ReplicaUpdate> updates)
    {
        var (dataVolumes, dataUpdates) = (new List<Volume>(volumes.Count), new List<ReplicaUpdate>(updates.Count));
        for (var i = 0; i < volumes.Count; i++)
        {
            var (volume, update) = (volumes[i], updates[i]);
            if (update.Kind != JournalRecordKind.Resize)
            {
                dataVolumes.Add(volume);
                dataUpdates.Add(update);
            }
            else
            {
                GrowTo(volume, update.Length);
            }
        }
        return (dataVolumes, dataUpdates);
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
            case JournalRecordKind.Resize:
                GrowTo(volume, length);
                break;
        }
    }

    /// <summary>A resize at the backup: grows the volume in memory (its top's map and size), never shrinks it.</summary>
    private static void GrowTo(Volume volume, long length)
    {
        if (length > volume.Size)
        {
            volume.Top.Map.Grow(Catalog.ChunksFor(length));
            volume.Top.SizeBytes = length;
            volume.SetSize(length);
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
