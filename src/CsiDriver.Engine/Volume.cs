using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Layers;

namespace CsiDriver.Engine;

/// <summary>
/// One thin-provisioned volume. Every update is first appended to its consistency group's
/// journal (which assigns its sequence and is what the acknowledgement rests on) and held in
/// the group's write overlay; once the journal holds it durably it is applied to the volume's
/// top layer. FLUSH and FUA wait for the journal to be durable (group commit); the data files
/// are made durable later by checkpoints, and recovery replays the journal from the last
/// checkpoint. Safe for many concurrent callers.
/// </summary>
public sealed class Volume : IBlockDevice
{
    private ConsistencyGroup _group;
    private Layer _top;
    private long _size;
    private volatile bool _readOnly;
    private volatile string? _readOnlyReason;
    private volatile bool _deleted;

    internal Volume(string id, uint number, long sizeBytes, bool readOnly, ConsistencyGroup group, Layer top)
    {
        Id = id;
        Number = number;
        _size = sizeBytes;
        _readOnly = readOnly;
        _group = group;
        _top = top;
    }

    public string Id { get; }

    public string Name => Id;

    public long Size => Volatile.Read(ref _size);

    public bool IsReadOnly => _readOnly;

    /// <summary>What a refused writer is told, when whoever made the volume read-only said.</summary>
    internal string? ReadOnlyReason => _readOnlyReason;

    /// <summary>The named consistency group, or null when the volume is a group of one.</summary>
    public string? ConsistencyGroup => Group.Name;

    /// <summary>Bytes held by this volume's own writable layer; data shared with its snapshots
    /// or its clone source is not counted. Commits the group's overlay first (a journal sync), so
    /// writes and trims not yet applied count too.</summary>
    /// <exception cref="InsufficientSpaceException">No space to apply them.</exception>
    public long AllocatedBytes
    {
        get
        {
            Group.Overlay.Commit();
            return Top.Map.Count * ChunkRange.ChunkSize;
        }
    }

    internal uint Number { get; }

    /// <summary>The group ordering this volume's writes (a named one, or its group of one): the
    /// handle for the engine's journal and replica operations on it.</summary>
    public ConsistencyGroup Group
    {
        get => Volatile.Read(ref _group);
        internal set => Volatile.Write(ref _group, value);
    }

    /// <summary>Records of this volume in its group's journal count from the one after this
    /// sequence (older ones predate its joining the group).</summary>
    internal long JoinedSequence { get; set; }

    internal Layer Top
    {
        get => Volatile.Read(ref _top);
        set => Volatile.Write(ref _top, value);
    }

    /// <summary>Held (a monitor) while an update is applied to the top layer and while the
    /// volume's group is paused. Reads take no lock: a chunk's bit is set only once its data is
    /// in place, layers are never changed under a reader except by the updates themselves, a
    /// layer's file handle stays open after the layer leaves the chain, and an update leaves
    /// the overlay only after it is in the layer.</summary>
    internal object ApplyLock { get; } = new();

    internal void SetSize(long sizeBytes) => Volatile.Write(ref _size, sizeBytes);

    /// <summary>Why writes are refused (the replication's fence, say), told to writers; kept
    /// in memory only: whoever made the volume read-only says why again after a restart.</summary>
    internal void SetReadOnly(bool readOnly, string? reason = null)
    {
        _readOnlyReason = readOnly ? reason : null;
        _readOnly = readOnly;
    }

    internal void MarkDeleted() => _deleted = true;

    public ValueTask ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        CheckLive();
        CheckRange(offset, buffer.Length);
        Group.Overlay.Read(this, offset, buffer.Span);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, bool fua, CancellationToken cancellationToken = default)
    {
        // Writes beyond one record's payload limit become several records, in order.
        long sequence;
        var done = 0;
        do
        {
            var part = data.Slice(done, Math.Min(JournalFormat.MaxPayload, data.Length - done));
            var at = offset + done;
            sequence = Update(JournalRecordKind.Write, at, part.Length, part);
            done += part.Length;
        }
        while (done < data.Length);
        return fua ? Group.Commit.WaitDurableAsync(sequence) : ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        var group = Group;
        return group.Commit.WaitDurableAsync(group.Journal.LastSequence);
    }

    public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        Discard(JournalRecordKind.Trim, offset, length);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteZeroesAsync(long offset, long length, bool fua, CancellationToken cancellationToken = default)
    {
        var sequence = Discard(JournalRecordKind.WriteZeroes, offset, length);
        return fua ? Group.Commit.WaitDurableAsync(sequence) : ValueTask.CompletedTask;
    }

    private long Discard(JournalRecordKind kind, long offset, long length) =>
        Update(kind, offset, length, ReadOnlyMemory<byte>.Empty);

    /// <summary>Journals the update and holds it in the group's <see cref="WriteOverlay"/> (both
    /// under the group's gate, so the overlay is in sequence order); a group commit applies it to
    /// the top layer once its record is durable (on-disk invariant there). A full overlay is
    /// waited for (one full writer commits it); past a batch, a sync starts in the background.</summary>
    private long Update(JournalRecordKind kind, long offset, long length, ReadOnlyMemory<byte> payload)
    {
        while (true)
        {
            var group = Group;
            if (group.Overlay.IsFull)
            {
                group.Overlay.WaitForRoom();
            }
            long sequence;
            lock (group.Gate)
            {
                if (group != Group)
                {
                    continue; // moved to another group meanwhile
                }
                CheckLive();
                if (_readOnly)
                {
                    throw new ReadOnlyVolumeException(Id, _readOnlyReason);
                }
                CheckRange(offset, length);
                sequence = group.Journal.Append(kind, Number, offset, length, payload, group.Journal.NowMicros());
                group.Overlay.Add(this, sequence, kind, offset, length, payload.Span);
            }
            group.Overlay.Advance();
            return sequence;
        }
    }

    private void CheckLive()
    {
        if (_deleted)
        {
            throw new VolumeNotFoundException(Id);
        }
    }

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Size)
        {
            throw new OutOfRangeException($"range [{offset}, {offset + length}) is outside volume '{Id}' of {Size} bytes");
        }
    }
}
