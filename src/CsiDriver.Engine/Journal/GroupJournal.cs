using Microsoft.Win32.SafeHandles;

namespace CsiDriver.Engine.Journal;

/// <summary>
/// One consistency group's journal: an append-only series of segment files in one directory.
/// <see cref="Append"/> is called under the group's lock, which is what makes sequence order
/// equal to file order; everything else may run beside it.
/// On-disk invariant: segment N+1 starts at the sequence after the last record of segment N;
/// a segment is created (header written, file and directory synced) before any record goes
/// into it, and a full segment is synced before the next one is started, so a flush needs to
/// sync only the active segment.
/// </summary>
internal sealed partial class GroupJournal : IDisposable
{
    private readonly string _directory;
    private readonly long _segmentBytes;
    private readonly TimeProvider _clock;
    private readonly List<Segment> _segments = [];
    private readonly byte[] _recordHeader = new byte[JournalFormat.RecordHeaderSize];
    private readonly ReadOnlyMemory<byte>[] _vector = new ReadOnlyMemory<byte>[2];
    private Segment _active = null!;
    private long _lastSequence;
    private long _appendedBytes;

    private GroupJournal(string directory, long segmentBytes, TimeProvider clock)
    {
        _directory = directory;
        _segmentBytes = segmentBytes;
        _clock = clock;
    }

    /// <summary>Sequence of the newest appended record (0 before the first).</summary>
    public long LastSequence => Volatile.Read(ref _lastSequence);

    /// <summary>Bytes appended since this instance opened; differences measure journal growth.</summary>
    public long AppendedBytes => Volatile.Read(ref _appendedBytes);

    public long RetainedBytes
    {
        get
        {
            lock (_segments)
            {
                return _segments.Sum(s => s.Length);
            }
        }
    }

    /// <summary>Sequence of the oldest record still held.</summary>
    public long FirstSequence
    {
        get
        {
            lock (_segments)
            {
                return _segments[0].StartSequence;
            }
        }
    }

    public long NowMicros() => _clock.GetUtcNow().ToUnixTimeMilliseconds() * 1000;

    /// <summary>Appends one record; returns its sequence. Caller holds the group's lock.</summary>
    public long Append(JournalRecordKind kind, uint volumeNumber, long offset, long length, ReadOnlyMemory<byte> payload, long timestampMicros)
    {
        var total = JournalFormat.RecordHeaderSize + payload.Length;
        if (_active.Length + total > _segmentBytes && _active.Length > JournalFormat.SegmentHeaderSize)
        {
            Roll();
        }
        var sequence = _lastSequence + 1;
        new RecordHeader(kind, volumeNumber, sequence, offset, length, timestampMicros, payload.Length)
            .Write(_recordHeader, payload.Span);
        _vector[0] = _recordHeader;
        _vector[1] = payload;
        RandomAccess.Write(_active.Handle!, _vector, _active.Length);
        _vector[1] = default;
        Volatile.Write(ref _active.Length, _active.Length + total);
        Volatile.Write(ref _appendedBytes, _appendedBytes + total);
        Volatile.Write(ref _lastSequence, sequence);
        return sequence;
    }

    /// <summary>Makes every appended record durable. Safe beside appends: a segment rolled
    /// away meanwhile was synced by the roll.</summary>
    public void Sync()
    {
        var active = Volatile.Read(ref _active);
        try
        {
            Native.DataSync(active.Handle!);
        }
        catch (ObjectDisposedException)
        {
            // Rolled and closed after being synced.
        }
    }

    /// <summary>Deletes whole segments whose records are all at or below <paramref name="sequence"/>;
    /// never the active one. Returns the bytes released.</summary>
    public long ReleaseThrough(long sequence)
    {
        var released = new List<Segment>();
        lock (_segments)
        {
            while (_segments.Count > 1 && _segments[1].StartSequence <= sequence + 1)
            {
                released.Add(_segments[0]);
                _segments.RemoveAt(0);
            }
        }
        foreach (var segment in released)
        {
            File.Delete(segment.Path);
        }
        return released.Sum(s => s.Length);
    }

    /// <summary>Sequence of the first record of the oldest segment that is not needed to keep
    /// <paramref name="budgetBytes"/>: releasing through the sequence before it brings the
    /// journal under budget (never past <paramref name="ceiling"/>).</summary>
    public long ReleasePointForBudget(long budgetBytes, long ceiling)
    {
        lock (_segments)
        {
            var total = _segments.Sum(s => s.Length);
            var point = _segments[0].StartSequence - 1;
            for (var i = 0; i < _segments.Count - 1 && total > budgetBytes; i++)
            {
                var through = _segments[i + 1].StartSequence - 1;
                if (through > ceiling)
                {
                    break;
                }
                total -= _segments[i].Length;
                point = through;
            }
            return point;
        }
    }

    private void Roll()
    {
        var previous = _active;
        Native.DataSync(previous.Handle!);
        var next = CreateSegment(previous.Number + 1, _lastSequence + 1);
        lock (_segments)
        {
            _segments.Add(next);
        }
        Volatile.Write(ref _active, next);
        previous.Handle!.Dispose();
        previous.Handle = null;
    }

    private Segment CreateSegment(long number, long startSequence)
    {
        var path = Path.Combine(_directory, JournalFormat.SegmentFileName(number));
        // Blocks are reserved up front (the file's length still grows only with appends): an
        // append then writes into allocated space instead of allocating on every page.
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.None, _segmentBytes);
        var header = new byte[JournalFormat.SegmentHeaderSize];
        new SegmentHeader(number, startSequence, NowMicros()).Write(header);
        RandomAccess.Write(handle, header, 0);
        Native.DataSync(handle);
        Native.SyncDirectory(_directory);
        return new Segment(number, startSequence, path) { Handle = handle, Length = header.Length };
    }

    public void Dispose()
    {
        if (_active.Handle is { } handle)
        {
            Native.DataSync(handle);
            handle.Dispose();
        }
    }

    /// <summary>Closes and removes the whole journal (its group is gone).</summary>
    public void Delete()
    {
        _active.Handle?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private sealed class Segment(long number, long startSequence, string path)
    {
        public long Number { get; } = number;

        public long StartSequence { get; } = startSequence;

        public string Path { get; } = path;

        public SafeFileHandle? Handle { get; set; }

        public long Length;
    }
}
