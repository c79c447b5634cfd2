using System.Diagnostics;
using Microsoft.Win32.SafeHandles;

namespace CsiDriver.Engine.Journal;

/// <summary>
/// One consistency group's journal: an append-only series of segment files in one directory.
/// <see cref="Append"/> is called under the group's lock, which is what makes sequence order
/// equal to file order; everything else may run beside it. How big segments are and what they
/// set aside on disk: see GroupJournal.Space.cs; released segment files kept for reuse:
/// GroupJournal.Spares.cs.
/// On-disk invariant: segment N+1 starts at the sequence after the last record of segment N;
/// a segment's header is written before any record goes into it. A flush syncs the segments
/// rolled since the previous flush, oldest first, then the active one, then the directory, so
/// once acknowledged every record up to the flushed sequence is durable; a crash before that
/// may lose a suffix (or leave a gap, which recovery cuts at), never a record before it.
/// A segment's records end where the next segment starts (its start sequence); a reused file
/// may hold bytes of its earlier life after them, so only the newest segment is read to its end.
/// </summary>
internal sealed partial class GroupJournal : IDisposable
{
    private readonly string _directory;
    private long _segmentBytes;
    private readonly TimeProvider _clock;
    private readonly List<Segment> _segments = [];
    private readonly byte[] _recordHeader = new byte[JournalFormat.RecordHeaderSize];
    private readonly ReadOnlyMemory<byte>[] _vector = new ReadOnlyMemory<byte>[2];
    private readonly List<ReadOnlyMemory<byte>> _gather = [];
    private readonly object _syncLock = new();
    private readonly List<SafeFileHandle> _rolledUnsynced = [];

    /// <summary>Segments released but whose files are not yet spared or deleted. Guarded by the segment list.</summary>
    private readonly List<Segment> _released = [];

    /// <summary>Held while released files are recycled: the spares' bound is kept one release at a time.</summary>
    private readonly object _recycling = new();
    private bool _directoryUnsynced;
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

    /// <summary>The largest a segment grows before the next one starts. Retention releases whole
    /// segments, so a small retention budget needs segments smaller than the default. Caller
    /// holds the group's gate.</summary>
    public long SegmentBytes
    {
        get => Volatile.Read(ref _segmentBytes);
        set => Volatile.Write(ref _segmentBytes, value);
    }

    public long NowMicros() => _clock.GetUtcNow().ToUnixTimeMilliseconds() * 1000;

    /// <summary>Appends one record; returns its sequence. Caller holds the group's lock.</summary>
    /// <exception cref="InsufficientSpaceException">No space for the record or for the segment it
    /// needed to start; nothing was appended.</exception>
    public long Append(JournalRecordKind kind, uint volumeNumber, long offset, long length, ReadOnlyMemory<byte> payload, long timestampMicros)
    {
        _vector[1] = payload;
        try
        {
            return Append(kind, volumeNumber, offset, length, _vector, payload.Length, timestampMicros);
        }
        finally
        {
            _vector[1] = default;
        }
    }

    /// <summary>Appends one record whose payload is <paramref name="payload"/>'s buffers one after
    /// another, written from where they are in one gathered write (a replica batch: its updates'
    /// data is not copied into one buffer first); returns its sequence. Caller holds the group's lock.</summary>
    /// <inheritdoc cref="Append(JournalRecordKind, uint, long, long, ReadOnlyMemory{byte}, long)" path="/exception"/>
    public long Append(JournalRecordKind kind, uint volumeNumber, long offset, long length, IReadOnlyList<ReadOnlyMemory<byte>> payload, long timestampMicros)
    {
        _gather.Add(default); // the record header's place
        var payloadLength = 0L;
        foreach (var piece in payload)
        {
            _gather.Add(piece);
            payloadLength += piece.Length;
        }
        try
        {
            return Append(kind, volumeNumber, offset, length, _gather, checked((int)payloadLength), timestampMicros);
        }
        finally
        {
            _gather.Clear(); // holds no caller's buffer past the call
        }
    }

    /// <summary>Writes <paramref name="vector"/> (the header's place, then the payload's buffers) as
    /// the next record and publishes it.</summary>
    private long Append(JournalRecordKind kind, uint volumeNumber, long offset, long length, IList<ReadOnlyMemory<byte>> vector, int payloadLength, long timestampMicros)
    {
        var total = JournalFormat.RecordHeaderSize + payloadLength;
        if (!_active.Takes(total, SegmentBytes))
        {
            Roll();
        }
        var sequence = _lastSequence + 1;
        new RecordHeader(kind, volumeNumber, sequence, offset, length, timestampMicros, payloadLength)
            .Write(_recordHeader, (IReadOnlyList<ReadOnlyMemory<byte>>)vector, start: 1);
        vector[0] = _recordHeader;
        try
        {
            // A write cut short leaves bytes past the published length; the next append overwrites them.
            RandomAccess.Write(_active.Handle!, (IReadOnlyList<ReadOnlyMemory<byte>>)vector, _active.Length);
        }
        catch (IOException e) when (Native.IsDiskFull(e))
        {
            throw new InsufficientSpaceException($"journal {Name}: no space for a record of {total} bytes", e);
        }
        var at = _active.Length;
        _active.ReadSpareAhead(at + total);
        Volatile.Write(ref _active.Length, at + total);
        Volatile.Write(ref _appendedBytes, _appendedBytes + total);
        Volatile.Write(ref _lastSequence, sequence);
        // An index point only once its record is published: a reader seeking to it must find it.
        _active.Indexed(sequence, at, _segments);
        return sequence;
    }

    /// <summary>Makes every record appended before the call durable: the segments rolled away
    /// since the last sync, the active one, and the directory entries of new segments. Called
    /// by group commit and by checkpoints, one at a time, never under the group's gate.</summary>
    public void Sync()
    {
        lock (_syncLock)
        {
            SyncHeld();
        }
    }

    private void SyncHeld()
    {
        List<SafeFileHandle> rolled;
        bool directory;
        SafeFileHandle active;
        lock (_segments)
        {
            rolled = [.. _rolledUnsynced];
            directory = _directoryUnsynced;
            _directoryUnsynced = false;
            active = _active.Handle!;
        }
        try
        {
            rolled.ForEach(Native.DataSync);
            Native.DataSync(active);
            if (directory)
            {
                Native.SyncDirectory(_directory);
            }
        }
        catch
        {
            lock (_segments)
            {
                _directoryUnsynced |= directory;
            }
            throw;
        }
        lock (_segments)
        {
            foreach (var handle in rolled)
            {
                _rolledUnsynced.Remove(handle);
                handle.Dispose();
            }
        }
    }

    /// <summary>Releases whole segments whose records are all at or below <paramref name="sequence"/>,
    /// never the active one: takes them out of the journal, in memory only, so from the return on
    /// no cursor locates them (one reading one already keeps its file, see <see cref="Locate"/>).
    /// Their files are kept as spares or deleted by <see cref="RecycleReleased"/>, which the caller
    /// runs next, outside its own locks: that file work (renames, a directory sync, deletes) takes
    /// 100–200 ms under load. <paramref name="sequence"/> must be at or below a durable
    /// checkpoint: a spare's records must never be issued again. Returns the bytes released.</summary>
    public long ReleaseThrough(long sequence)
    {
        lock (_segments)
        {
            long bytes = 0;
            while (_segments.Count > 1 && _segments[1].StartSequence <= sequence + 1)
            {
                bytes += _segments[0].Length;
                _released.Add(_segments[0]);
                _segments.RemoveAt(0);
            }
            return bytes;
        }
    }

    /// <summary>The file work of the releases so far: each released segment is kept as a spare or
    /// deleted (see GroupJournal.Spares.cs). One at a time; callable beside appends and reads.
    /// A call that fails (its error thrown) leaves the work it did not finish to the next.</summary>
    public void RecycleReleased()
    {
        lock (_recycling)
        {
            Spare();
        }
    }

    /// <summary>The newest sequence <see cref="ReleaseThrough"/>(<paramref name="sequence"/>) would
    /// release (whole segments only), or the sequence before the oldest held when it releases none.</summary>
    public long ReleaseBoundary(long sequence)
    {
        lock (_segments)
        {
            var kept = 0;
            while (kept + 1 < _segments.Count && _segments[kept + 1].StartSequence <= sequence + 1)
            {
                kept++;
            }
            return _segments[kept].StartSequence - 1;
        }
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

    /// <summary>Starts the next segment, sized by how fast the group filled this one, in a spare
    /// when there is one. Nothing is synced here, under the gate: the full segment and the new
    /// directory entry are synced by the next group commit.</summary>
    /// <exception cref="InsufficientSpaceException">No space to start it; the active segment stays.</exception>
    private void Roll()
    {
        var previous = _active;
        var size = NextSegmentBytes(previous);
        var next = StartSegment(previous.Number + 1, _lastSequence + 1, size, durable: false);
        lock (_segments)
        {
            _segments.Add(next);
            _rolledUnsynced.Add(previous.Handle!);
            _directoryUnsynced = true;
            _expectedSegmentBytes = size;
            Volatile.Write(ref _active, next);
        }
    }

    /// <summary>Starts a segment of <paramref name="size"/> bytes (at most: a record bigger than
    /// a segment gets one of its own) in a spare when there is one (as big as the spare, if that
    /// is bigger), else in a new file, and reserves its blocks as far as the space allows.</summary>
    /// <exception cref="InsufficientSpaceException">Not even its header fits; no file is left behind.</exception>
    private Segment StartSegment(long number, long startSequence, long size, bool durable)
    {
        var path = Path.Combine(_directory, JournalFormat.SegmentFileName(number));
        var spareBytes = TakeSpare(path);
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, spareBytes > 0 ? FileMode.Open : FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (IOException e) when (Native.IsDiskFull(e))
        {
            throw NoSpaceFor(number, e);
        }
        try
        {
            // A spare's header is overwritten first; its records after that, in place. Until
            // the header is durable the file holds its earlier life's header under this name,
            // which recovery refuses (the numbers differ), and no record in it was acknowledged.
            var header = new byte[JournalFormat.SegmentHeaderSize];
            new SegmentHeader(number, startSequence, NowMicros()).Write(header);
            RandomAccess.Write(handle, header, 0);
            var limit = Math.Max(size, spareBytes);
            var reserved = Native.Reserve(handle, spareBytes, limit - spareBytes);
            if (durable)
            {
                Native.DataSync(handle);
                Native.SyncDirectory(_directory);
            }
            return new Segment(number, startSequence, path, JournalFormat.Version)
            {
                Handle = handle,
                Length = header.Length,
                SpareEnd = spareBytes,
                ReadAheadTo = header.Length,
                Limit = limit,
                Allocated = reserved ? limit : Math.Max(header.Length, spareBytes),
            };
        }
        catch (IOException e)
        {
            handle.Dispose();
            File.Delete(path);
            throw Native.IsDiskFull(e) ? NoSpaceFor(number, e) : e;
        }
    }

    private InsufficientSpaceException NoSpaceFor(long segment, IOException e) =>
        new($"journal {Name}: no space to start segment {JournalFormat.SegmentFileName(segment)}", e);

    /// <summary>The group's journal name: its directory's.</summary>
    private string Name => Path.GetFileName(_directory);

    /// <summary>Syncs, and cuts the active segment's file at its records: a reused file's bytes
    /// after them would read as a torn tail at the next start.</summary>
    public void Dispose()
    {
        Sync();
        var handle = _active.Handle!;
        if (RandomAccess.GetLength(handle) > _active.Length)
        {
            RandomAccess.SetLength(handle, _active.Length);
            Native.DataSync(handle);
        }
        handle.Dispose();
    }

    /// <summary>Closes and removes the whole journal (its group is gone).</summary>
    public void Delete()
    {
        lock (_segments)
        {
            _rolledUnsynced.ForEach(h => h.Dispose());
            _active.Handle!.Dispose();
        }
        Directory.Delete(_directory, recursive: true);
    }

    private sealed class Segment(long number, long startSequence, string path, ushort version)
    {
        /// <summary>Bytes of records between two points of <see cref="Index"/> at least.</summary>
        private const long IndexStride = 1 << 20;

        /// <summary>A spare's bytes asked to be read ahead at once, and how far ahead of the appends.</summary>
        private const long ReadAheadWindow = 1 << 20;
        private const long ReadAheadLead = 2 * ReadAheadWindow;

        private long _lastIndexed = JournalFormat.SegmentHeaderSize;

        public long Number { get; } = number;

        public long StartSequence { get; } = startSequence;

        public string Path { get; } = path;

        /// <summary>The format it was written in: records are appended only to a current one.</summary>
        public ushort Version { get; } = version;

        /// <summary>Open for appending while it is the active segment.</summary>
        public SafeFileHandle? Handle { get; set; }

        public long Length;

        /// <summary>While active: the size it was started for (see GroupJournal.Space.cs).</summary>
        public long Limit { get; set; }

        /// <summary>While active: bytes of the file known to be allocated (its header, its reservation).</summary>
        public long Allocated { get; set; }

        /// <summary>Where the bytes of the spare file it was started in end (0 when it is a new file).</summary>
        public long SpareEnd { get; init; }

        /// <summary>How far its spare bytes have been asked to be read ahead. Appends only (the group's gate).</summary>
        public long ReadAheadTo { get; set; }

        /// <summary>Keeps the spare bytes past an append ending at <paramref name="end"/> read ahead
        /// (<see cref="ReadAheadWindow"/> at a time, <see cref="ReadAheadLead"/> ahead). Its pages are
        /// usually still cached from its earlier life; when they are not (after a reboot, or once
        /// memory pressure took them), each append of a record that ends inside a page would first
        /// read that page from the disk, synchronously, under the gate (a partial page within the
        /// file's length): 4 KiB writes ran at 7k per second instead of 25–32k with the journals'
        /// cache dropped (measured through the FUSE frontend). Read ahead in windows, the disk
        /// reads the spare in large requests a little ahead of the appends; the whole spare at once
        /// measured worse (10–11k against 19–27k), its reads queued ahead of the appends' pages and
        /// of the journal's syncs. A cached window costs only its page lookups.</summary>
        public void ReadSpareAhead(long end)
        {
            while (ReadAheadTo < Math.Min(end + ReadAheadLead, SpareEnd))
            {
                var length = Math.Min(ReadAheadWindow, SpareEnd - ReadAheadTo);
                Native.StartReadahead(Handle!, ReadAheadTo, length);
                ReadAheadTo += length;
            }
        }

        /// <summary>Cursors reading it now (<see cref="Locate"/> to <see cref="Leave"/>): a segment released
        /// while one is is deleted, never reused under it. Guarded by the journal's segment list.</summary>
        public int Readers { get; set; }

        /// <summary>While active: when it became active and its length then, to measure the write rate.</summary>
        public long Started { get; set; } = Stopwatch.GetTimestamp();

        public long LengthAtStart { get; set; } = JournalFormat.SegmentHeaderSize;

        /// <summary>Whether a record of <paramref name="total"/> bytes goes in, under a segment size of
        /// at most <paramref name="largest"/>; an empty segment takes any record.</summary>
        public bool Takes(int total, long largest) =>
            Version == JournalFormat.Version
            && (Length + total <= Math.Min(Limit, largest) || Length <= JournalFormat.SegmentHeaderSize);

        /// <summary>In memory only: where some records start (sequence, offset), ascending, about
        /// one per <see cref="IndexStride"/>, so a reader starting inside a segment scans at most
        /// that much to find its record. A segment nobody appended or replayed since the engine
        /// opened has none, and is scanned from its start. Guarded by the journal's segment list.</summary>
        public List<(long Sequence, long Offset)> Index { get; } = [];

        /// <summary>Notes that the record <paramref name="sequence"/> starts at <paramref name="offset"/>
        /// (records arrive in order); it becomes an index point once a stride has passed since the last.</summary>
        public void Indexed(long sequence, long offset, object guard)
        {
            if (offset - _lastIndexed < IndexStride)
            {
                return;
            }
            _lastIndexed = offset;
            lock (guard)
            {
                Index.Add((sequence, offset));
            }
        }

        /// <summary>The offset to start scanning at for <paramref name="sequence"/>. Caller holds the guard.</summary>
        public long StartOf(long sequence)
        {
            var offset = (long)JournalFormat.SegmentHeaderSize;
            var (low, high) = (0, Index.Count - 1);
            while (low <= high)
            {
                var middle = (low + high) / 2;
                if (Index[middle].Sequence <= sequence)
                {
                    offset = Index[middle].Offset;
                    low = middle + 1;
                }
                else
                {
                    high = middle - 1;
                }
            }
            return offset;
        }
    }
}
