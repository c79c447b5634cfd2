using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Layers;

namespace CsiDriver.Engine;

/// <summary>
/// A group's updates that are journaled but not yet durable, held in memory until a group
/// commit has synced their records; then, in sequence order, they are applied to their volumes'
/// top layers and dropped. Reads of a volume consult it over the layers.
/// <para>On-disk invariant (what survives a power cut): a data file never holds a record its
/// journal does not hold durably. OS writeback, the checkpointer's writeback hint and a
/// checkpoint's fdatasync may push a data file to the disk at any moment, so an update reaches
/// it only after the sync that made its record durable. Replay after a crash re-applies every
/// durable record past the checkpoint and nothing else, so each image is a prefix of its group's
/// sequence (docs/formats.md, "What survives a crash").</para>
/// <para>State: the pending updates, in sequence order, indexed by volume and chunk (writes) or
/// listed (TRIM and WRITE_ZEROES, usually few), under its own lock, held only for moments.
/// Updates are added under the group's gate (so the queue is in sequence order) and applied
/// under <see cref="ApplyGate"/>, which a <see cref="GroupPause"/> takes before the gate: while
/// a group is paused nothing is applied, and a pause that drains applies everything first.</para>
/// <para>Off the writers' path: past <see cref="SyncBatchBytes"/> of the bound a sync starts in
/// the background (<see cref="Advance"/>), and the updates each such sync made durable are
/// applied in the background (<see cref="ApplyInBackground"/>): the next sync runs while the
/// previous batch is applied, and writers go on appending meanwhile. A sync run for a FLUSH or
/// a FUA write applies on its own thread, as before (<see cref="ApplyAfterCommit"/>).</para>
/// <para>Bounded: a writer that finds <see cref="IsFull"/> waits for room (<see cref="WaitForRoom"/>:
/// one of them commits the group on its own thread, sync then apply, so progress never depends
/// on the thread pool) before appending; when the apply cannot proceed (the disk is full) the
/// committing writer gets the error.</para>
/// <para>Payloads are copied into buffers of a pool kept for them (<see cref="PayloadPool"/>:
/// fresh arrays cost a page fault per page here, more than the copy): a buffer goes back once
/// its update is applied and no read is copying from it.</para>
/// </summary>
internal sealed class WriteOverlay(ConsistencyGroup group, long limitBytes)
{
    /// <summary>Memory an update costs beyond its payload (the entry, its index slots), for the bound.</summary>
    private const int EntryBytes = 128;

    /// <summary>The part of the bound past which a background sync starts.</summary>
    private const int SyncBatchFraction = 8;

    /// <summary>Payload buffers of all overlays: each size keeps 8 MiB (2,048 of 4 KiB), or 32
    /// buffers where that is more (32 MiB of 1 MiB, one default bound's worth, as before).</summary>
    internal static readonly PayloadPool Payloads = new(8L << 20, 32);

    private readonly object _lock = new();
    private readonly Queue<PendingUpdate> _queue = new();
    private readonly Dictionary<(Volume, long Chunk), List<PendingUpdate>> _writes = [];
    private readonly List<PendingUpdate> _discards = [];
    private int _count;
    private long _enqueued;
    private long _bytes;
    private int _syncing;
    private int _applying;
    private bool _committingForRoom;
    private int _waitingForRoom;

    /// <summary>Held while updates are applied; taken by pauses before the group's gate.</summary>
    public object ApplyGate { get; } = new();

    public bool IsEmpty => Volatile.Read(ref _count) == 0;

    public bool IsFull => Volatile.Read(ref _bytes) >= limitBytes;

    private long SyncBatchBytes => limitBytes / SyncBatchFraction;

    /// <summary>Called by each writer after it appended: past <see cref="SyncBatchBytes"/> starts a
    /// sync on the thread pool (one at a time) that syncs batch after batch while records come
    /// faster than they are synced, so the journal sync runs beside the writers and they seldom
    /// find the overlay full. Nothing waits for it: a writer that does find it full commits on
    /// its own thread.</summary>
    public void Advance()
    {
        if (Volatile.Read(ref _bytes) < SyncBatchBytes || Interlocked.Exchange(ref _syncing, 1) == 1)
        {
            return;
        }
        ThreadPool.UnsafeQueueUserWorkItem(static overlay => overlay.SyncInBackground(), this, preferLocal: false);
    }

    private void SyncInBackground()
    {
        try
        {
            while (true)
            {
                while (Volatile.Read(ref _bytes) >= SyncBatchBytes && group.Commit.DurableSequence < group.Journal.LastSequence)
                {
                    group.Commit.WaitDurable(group.Journal.LastSequence, applyHere: false); // applied in the background
                }
                Volatile.Write(ref _syncing, 0);
                // A writer that appended after the check above found the flag still set: look again.
                if (Volatile.Read(ref _bytes) < SyncBatchBytes || group.Commit.DurableSequence >= group.Journal.LastSequence
                    || Interlocked.Exchange(ref _syncing, 1) == 1)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is InsufficientSpaceException or IOException or ObjectDisposedException)
        {
            // nothing made durable: the next FLUSH, commit or full overlay's writer syncs and reports
            Volatile.Write(ref _syncing, 0);
        }
    }

    /// <summary>Returns once the overlay has room, for a writer that found it full. One such
    /// writer commits the group (sync, then apply, on its own thread: never a pool thread's
    /// job); the others wait for room, which the apply frees update by update, so a small write
    /// waits for one journal sync and a little apply, not for whole drains queued one after
    /// another on <see cref="ApplyGate"/> (a monitor, not fair to them).</summary>
    /// <exception cref="InsufficientSpaceException">No space to apply them; each writer that
    /// commits in turn is told.</exception>
    public void WaitForRoom()
    {
        lock (_lock)
        {
            _waitingForRoom++;
            try
            {
                while (_committingForRoom)
                {
                    if (_bytes < limitBytes)
                    {
                        return;
                    }
                    Monitor.Wait(_lock);
                }
                if (_bytes < limitBytes)
                {
                    return;
                }
                _committingForRoom = true;
            }
            finally
            {
                _waitingForRoom--;
            }
        }
        try
        {
            Commit();
        }
        finally
        {
            lock (_lock)
            {
                _committingForRoom = false;
                Monitor.PulseAll(_lock);
            }
        }
    }

    /// <summary>Holds an update just appended as <paramref name="sequence"/>. Caller holds the
    /// group's gate. The payload is copied: the caller's buffer is reused once it returns.</summary>
    public void Add(Volume volume, long sequence, JournalRecordKind kind, long offset, long length, ReadOnlySpan<byte> payload)
    {
        var update = Pending(volume, sequence, kind, offset, length, payload);
        lock (_lock)
        {
            Enqueue(update);
        }
    }

    /// <summary>Holds every update of one record just appended as <paramref name="sequence"/>
    /// (a replica batch: updates of several volumes, in order), all at once: a read finds all of
    /// them or none. Caller holds the group's gate; payloads are copied as by <see cref="Add"/>.</summary>
    public void AddRecord(long sequence, IReadOnlyList<Volume> volumes, IReadOnlyList<Replication.ReplicaUpdate> updates)
    {
        var pending = new PendingUpdate[updates.Count];
        for (var i = 0; i < pending.Length; i++)
        {
            var u = updates[i];
            pending[i] = Pending(volumes[i], sequence, u.Kind, u.Offset, u.Length, u.Payload.Span);
        }
        lock (_lock)
        {
            Array.ForEach(pending, Enqueue);
        }
    }

    private static PendingUpdate Pending(Volume volume, long sequence, JournalRecordKind kind, long offset, long length, ReadOnlySpan<byte> payload)
    {
        var data = payload.IsEmpty ? [] : Payloads.Rent(payload.Length);
        payload.CopyTo(data);
        return new PendingUpdate(volume, sequence, kind, offset, length, data);
    }

    /// <summary>Queues and indexes an update. Caller holds the lock.</summary>
    private void Enqueue(PendingUpdate update)
    {
        update.Order = ++_enqueued;
        _queue.Enqueue(update);
        if (update.Kind == JournalRecordKind.Write)
        {
            foreach (var chunk in Chunks(update.Offset, update.Length))
            {
                if (!_writes.TryGetValue((update.Volume, chunk), out var list))
                {
                    _writes[(update.Volume, chunk)] = list = [];
                }
                list.Add(update);
            }
        }
        else
        {
            _discards.Add(update);
        }
        _bytes += update.Cost;
        _count++;
    }

    /// <summary>The newest sequence whose update, and every one before it, is in the data files:
    /// the sequence a checkpoint may name. Caller has paused the group (nothing is applied or
    /// appended meanwhile).</summary>
    public long AppliedThrough(long lastSequence)
    {
        lock (_lock)
        {
            return _queue.TryPeek(out var oldest) ? oldest.Sequence - 1 : lastSequence;
        }
    }

    /// <summary>Reads [offset, offset + buffer length) of <paramref name="volume"/>: the layers,
    /// then the pending updates over them in sequence order. The pending ones are taken first:
    /// one applied and dropped meanwhile was in the layers before it was dropped.</summary>
    public void Read(Volume volume, long offset, Span<byte> buffer)
    {
        var pending = Covering(volume, offset, buffer.Length);
        try
        {
            LayerChain.Read(volume.Top, offset, buffer);
            foreach (var update in pending)
            {
                var start = Math.Max(offset, update.Offset);
                var end = Math.Min(offset + buffer.Length, update.Offset + update.Length);
                var into = buffer[(int)(start - offset)..(int)(end - offset)];
                if (update.Kind == JournalRecordKind.Write)
                {
                    update.Data.AsSpan((int)(start - update.Offset), into.Length).CopyTo(into);
                }
                else
                {
                    into.Clear();
                }
            }
        }
        finally
        {
            if (pending.Count > 0)
            {
                lock (_lock)
                {
                    foreach (var update in pending)
                    {
                        update.Readers--;
                        ReturnUnread(update);
                    }
                }
            }
        }
    }

    /// <summary>An update dropped and no longer read gives its payload buffer back. Caller holds the lock.</summary>
    private static void ReturnUnread(PendingUpdate update)
    {
        if (update.Dropped && update.Readers == 0 && update.Data.Length > 0)
        {
            Payloads.Return(update.Data);
            update.Data = [];
        }
    }

    /// <summary>The group's records become durable and the pending updates are applied: room
    /// for a writer that found the overlay full, and the background commit between checkpoints.
    /// Called without the group's gate.</summary>
    /// <exception cref="InsufficientSpaceException">No space to apply them (nothing is lost:
    /// they stay pending, durable, and reads still see them).</exception>
    public void Commit()
    {
        lock (ApplyGate)
        {
            Drain();
        }
        StartApplying(); // what a sync made durable meanwhile, its apply having found the gate taken
    }

    /// <summary>Syncs the journal when anything is pending, then applies everything: under a
    /// pause (which holds <see cref="ApplyGate"/>), the data files then reflect every record.</summary>
    /// <exception cref="InsufficientSpaceException">No space to apply them; they stay pending.</exception>
    public void Drain()
    {
        if (IsEmpty)
        {
            return;
        }
        group.Commit.WaitDurable(group.Journal.LastSequence);
        ApplyDurable();
    }

    /// <summary>After a group commit: applies what it made durable, on the thread that ran the
    /// sync when <paramref name="here"/> (one serving a FLUSH or a FUA write), else in the
    /// background (<see cref="StartApplying"/>). A failure leaves the updates pending (durable,
    /// visible to reads) for the next commit, a drain or a full overlay's writer to retry and
    /// report: the commit itself succeeded.
    /// <para>When <see cref="ApplyGate"/> is taken (a commit, a pause or the background apply)
    /// the thread that ran the sync does not queue behind it: whoever holds it applies what is
    /// durable, and looks again when it lets go.</para></summary>
    public void ApplyAfterCommit(bool here)
    {
        if (!here)
        {
            StartApplying();
            return;
        }
        if (!Monitor.TryEnter(ApplyGate))
        {
            return;
        }
        try
        {
            ApplyDurable();
        }
        catch (Exception e) when (e is InsufficientSpaceException or IOException or ObjectDisposedException)
        {
            // stays pending; see above (or the engine is closing: the journal holds it)
        }
        finally
        {
            Monitor.Exit(ApplyGate);
        }
        StartApplying(); // a background sync's batch, its apply having found the gate taken
    }

    /// <summary>Starts applying, on the thread pool, what is durable and pending (one apply at a time).</summary>
    public void StartApplying()
    {
        if (!HasDurablePending() || Interlocked.Exchange(ref _applying, 1) == 1)
        {
            return;
        }
        ThreadPool.UnsafeQueueUserWorkItem(static overlay => overlay.ApplyInBackground(), this, preferLocal: false);
    }

    private void ApplyInBackground()
    {
        while (true)
        {
            if (!Monitor.TryEnter(ApplyGate))
            {
                Volatile.Write(ref _applying, 0); // its holder applies, and looks again when it lets go
                return;
            }
            try
            {
                ApplyDurable();
            }
            catch (Exception e) when (e is InsufficientSpaceException or IOException or ObjectDisposedException)
            {
                // stays pending; see above (or the engine is closing: the journal holds it)
                Volatile.Write(ref _applying, 0);
                return;
            }
            finally
            {
                Monitor.Exit(ApplyGate);
            }
            Volatile.Write(ref _applying, 0);
            // A sync that ended after the apply read its durable sequence found the flag still set: look again.
            if (!HasDurablePending() || Interlocked.Exchange(ref _applying, 1) == 1)
            {
                return;
            }
        }
    }

    private bool HasDurablePending()
    {
        lock (_lock)
        {
            return _queue.TryPeek(out var oldest) && oldest.Sequence <= group.Commit.DurableSequence;
        }
    }

    /// <summary>Drops the pending updates of a volume being deleted (its records are not replayed
    /// either once it is gone). Caller has paused the group.</summary>
    public void Forget(Volume volume)
    {
        lock (_lock)
        {
            var kept = _queue.Where(u => u.Volume != volume).ToList();
            foreach (var update in _queue.Where(u => u.Volume == volume).ToList())
            {
                Drop(update);
            }
            _queue.Clear();
            kept.ForEach(_queue.Enqueue);
        }
    }

    /// <summary>Applies, in order, every pending update whose record is durable.</summary>
    /// <exception cref="InsufficientSpaceException">No space in a data file; that update and the
    /// ones after it stay pending (applying one again is harmless).</exception>
    private void ApplyDurable()
    {
        lock (ApplyGate)
        {
            var durable = group.Commit.DurableSequence; // read once: a long run of syncs must not hold the gate from a pause
            while (true)
            {
                PendingUpdate? next;
                lock (_lock)
                {
                    if (!_queue.TryPeek(out next) || next.Sequence > durable)
                    {
                        return;
                    }
                }
                lock (next.Volume.ApplyLock)
                {
                    Apply(next);
                }
                lock (_lock)
                {
                    Drop(_queue.Dequeue());
                }
            }
        }
    }

    private static void Apply(PendingUpdate update)
    {
        try
        {
            var data = update.Kind == JournalRecordKind.Write ? update.Data.AsSpan(0, (int)update.Length) : default;
            LayerChain.Apply(update.Volume.Top, update.Volume.Size, update.Kind, update.Offset, update.Length, data);
        }
        catch (IOException e) when (Native.IsDiskFull(e))
        {
            throw new InsufficientSpaceException($"no space to write volume '{update.Volume.Id}' to its data file (its writes are kept in the journal and memory until there is)", e);
        }
    }

    private void Drop(PendingUpdate update)
    {
        if (update.Kind == JournalRecordKind.Write)
        {
            foreach (var chunk in Chunks(update.Offset, update.Length))
            {
                var list = _writes[(update.Volume, chunk)];
                list.RemoveAt(list[0] == update ? 0 : list.IndexOf(update)); // dropped in sequence order: the oldest
                if (list.Count == 0)
                {
                    _writes.Remove((update.Volume, chunk));
                }
            }
        }
        else
        {
            _discards.Remove(update);
        }
        _bytes -= update.Cost;
        _count--;
        update.Dropped = true;
        ReturnUnread(update);
        if (_waitingForRoom > 0 && _bytes < limitBytes)
        {
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Pending updates of <paramref name="volume"/> meeting the range, in sequence order.</summary>
    private List<PendingUpdate> Covering(Volume volume, long offset, long length)
    {
        var found = new List<PendingUpdate>();
        if (IsEmpty)
        {
            return found;
        }
        lock (_lock)
        {
            foreach (var chunk in Chunks(offset, length))
            {
                if (_writes.TryGetValue((volume, chunk), out var list))
                {
                    found.AddRange(list.Where(u => u.Offset < offset + length && offset < u.Offset + u.Length));
                }
            }
            found.AddRange(_discards.Where(u => u.Volume == volume && u.Offset < offset + length && offset < u.Offset + u.Length));
            if (found.Count > 1)
            {
                // A write spanning chunks is listed under each; updates of one record share its
                // sequence, so the order they were queued in is what orders them.
                found = found.Distinct().OrderBy(u => u.Order).ToList();
            }
            found.ForEach(u => u.Readers++); // its buffer stays until the read has copied from it
        }
        return found;
    }

    private static IEnumerable<long> Chunks(long offset, long length)
    {
        for (var chunk = offset / ChunkRange.ChunkSize; chunk * ChunkRange.ChunkSize < offset + length; chunk++)
        {
            yield return chunk;
        }
    }

    /// <summary>A class, compared by reference: lists of them are searched on every drop.</summary>
    private sealed class PendingUpdate(Volume volume, long sequence, JournalRecordKind kind, long offset, long length, byte[] data)
    {
        public Volume Volume { get; } = volume;

        public long Sequence { get; } = sequence;

        public JournalRecordKind Kind { get; } = kind;

        public long Offset { get; } = offset;

        public long Length { get; } = length;

        /// <summary>The payload (a pooled buffer, at least <see cref="Length"/> bytes for a write;
        /// empty once given back). Guarded by the overlay's lock once added.</summary>
        public byte[] Data { get; set; } = data;

        /// <summary>What it counts against the bound: its payload and its entry.</summary>
        public long Cost { get; } = (kind == JournalRecordKind.Write ? length : 0) + EntryBytes;

        /// <summary>Its place in the queue (sequence order, and a record's own order within it). Guarded by the overlay's lock.</summary>
        public long Order { get; set; }

        /// <summary>Reads copying from <see cref="Data"/> now. Guarded by the overlay's lock.</summary>
        public int Readers { get; set; }

        /// <summary>Applied and out of the indexes. Guarded by the overlay's lock.</summary>
        public bool Dropped { get; set; }
    }
}
