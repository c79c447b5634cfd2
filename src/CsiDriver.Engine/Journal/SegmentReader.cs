using Microsoft.Win32.SafeHandles;

namespace CsiDriver.Engine.Journal;

internal enum SegmentReadStatus
{
    Record,
    End,
    Invalid,
}

/// <summary>
/// Reads one segment's records in order, checking each (magic, length, checksum). Reading stops
/// at a limit, which a reader running beside the appender may raise as records are appended
/// (<see cref="Extend"/>): the appender publishes a segment's length only after its bytes are
/// written, so everything below the limit is whole. The file is read through a window of our
/// own, filled only from below the limit, never through a buffered stream, which could keep
/// bytes of a record still being written and hand them out once the limit passes them.
/// </summary>
internal sealed class SegmentReader : IDisposable
{
    private const int WindowBytes = 1 << 20;

    private readonly SafeFileHandle _handle;
    private byte[] _window = new byte[WindowBytes];
    private long _windowOffset;
    private int _windowLength;
    private long _limit;

    private SegmentReader(SafeFileHandle handle, long limit, SegmentHeader segment)
    {
        _handle = handle;
        _limit = limit;
        Segment = segment;
        Position = JournalFormat.SegmentHeaderSize;
    }

    public SegmentHeader Segment { get; }

    /// <summary>Offset just past the last valid record read.</summary>
    public long Position { get; private set; }

    public RecordHeader Header { get; private set; }

    /// <summary>The current record's payload; valid until the next call to <see cref="Next"/>.</summary>
    public ReadOnlyMemory<byte> Payload { get; private set; }

    public string Error { get; private set; } = "";

    /// <summary>Opens the segment and checks its header; null with <paramref name="error"/> set
    /// when the header is bad. Without a limit the file's length is the limit.</summary>
    public static SegmentReader? Open(string path, long? limit, out string error)
    {
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        try
        {
            Span<byte> header = stackalloc byte[JournalFormat.SegmentHeaderSize];
            var read = RandomAccess.Read(handle, header, 0);
            if (!SegmentHeader.TryParse(header[..read], out var segment, out error))
            {
                handle.Dispose();
                return null;
            }
            return new SegmentReader(handle, limit ?? RandomAccess.GetLength(handle), segment);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Continues at <paramref name="offset"/>, which must be the start of a record.</summary>
    public void Seek(long offset)
    {
        if (offset < JournalFormat.SegmentHeaderSize || offset > _limit)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"offset {offset} is outside the segment's records");
        }
        Position = offset;
    }

    /// <summary>Raises the limit to the segment's newly published length.</summary>
    public void Extend(long limit) => _limit = Math.Max(_limit, limit);

    public SegmentReadStatus Next()
    {
        var remaining = _limit - Position;
        if (remaining == 0)
        {
            return SegmentReadStatus.End;
        }
        if (remaining < JournalFormat.RecordHeaderSize)
        {
            return Fail($"torn record header at offset {Position}");
        }
        var headerBytes = Fetch(Position, JournalFormat.RecordHeaderSize);
        if (!RecordHeader.TryParse(headerBytes.Span, out var header, out var error))
        {
            return Fail($"{error} at offset {Position}");
        }
        if (header.TotalLength > remaining)
        {
            return Fail($"torn record at offset {Position}: {header.TotalLength} bytes announced, {remaining} present");
        }
        var record = Fetch(Position, (int)header.TotalLength);
        var payload = record[JournalFormat.RecordHeaderSize..];
        if (!RecordHeader.ChecksumMatches(record.Span[..JournalFormat.RecordHeaderSize], payload.Span))
        {
            return Fail($"checksum mismatch in record at offset {Position} (sequence field {header.Sequence})");
        }
        Header = header;
        Payload = payload;
        Position += header.TotalLength;
        return SegmentReadStatus.Record;
    }

    /// <summary>Bytes [offset, offset + count) of the file, all below the limit: from the window
    /// when it holds them, else the window is refilled from <paramref name="offset"/> on.</summary>
    private ReadOnlyMemory<byte> Fetch(long offset, int count)
    {
        if (offset < _windowOffset || offset + count > _windowOffset + _windowLength)
        {
            if (_window.Length < count)
            {
                _window = new byte[count];
            }
            var wanted = (int)Math.Min(_window.Length, _limit - offset);
            var filled = 0;
            while (filled < wanted)
            {
                var read = RandomAccess.Read(_handle, _window.AsSpan(filled, wanted - filled), offset + filled);
                if (read == 0)
                {
                    throw new CorruptionException($"segment {Segment.Number} ends at {offset + filled}, before its published length {_limit}");
                }
                filled += read;
            }
            _windowOffset = offset;
            _windowLength = filled;
        }
        return _window.AsMemory((int)(offset - _windowOffset), count);
    }

    private SegmentReadStatus Fail(string error)
    {
        Error = error;
        return SegmentReadStatus.Invalid;
    }

    public void Dispose() => _handle.Dispose();
}
