namespace CsiDriver.Engine.Journal;

internal enum SegmentReadStatus
{
    Record,
    End,
    Invalid,
}

/// <summary>Reads one segment's records in order, checking each (magic, length, checksum).
/// Reading stops at <c>limit</c>: a reader running beside the appender sees a consistent prefix.</summary>
internal sealed class SegmentReader : IDisposable
{
    private readonly FileStream _stream;
    private readonly long _limit;
    private readonly byte[] _header = new byte[JournalFormat.RecordHeaderSize];
    private byte[] _payload = new byte[64 << 10];

    private SegmentReader(FileStream stream, long limit, SegmentHeader segment)
    {
        _stream = stream;
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

    /// <summary>Opens the segment and checks its header; null with <paramref name="error"/> set when the header is bad.</summary>
    public static SegmentReader? Open(string path, long? limit, out string error)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 20);
        try
        {
            Span<byte> header = stackalloc byte[JournalFormat.SegmentHeaderSize];
            var read = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            if (!SegmentHeader.TryParse(header[..read], out var segment, out error))
            {
                stream.Dispose();
                return null;
            }
            return new SegmentReader(stream, limit ?? stream.Length, segment);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

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
        _stream.ReadExactly(_header);
        if (!RecordHeader.TryParse(_header, out var header, out var error))
        {
            return Fail($"{error} at offset {Position}");
        }
        if (header.TotalLength > remaining)
        {
            return Fail($"torn record at offset {Position}: {header.TotalLength} bytes announced, {remaining} present");
        }
        if (_payload.Length < header.PayloadLength)
        {
            _payload = new byte[Math.Max(header.PayloadLength, _payload.Length * 2)];
        }
        var payload = _payload.AsMemory(0, header.PayloadLength);
        _stream.ReadExactly(payload.Span);
        if (!RecordHeader.ChecksumMatches(_header, payload.Span))
        {
            return Fail($"checksum mismatch in record at offset {Position} (sequence field {header.Sequence})");
        }
        Header = header;
        Payload = payload;
        Position += header.TotalLength;
        return SegmentReadStatus.Record;
    }

    private SegmentReadStatus Fail(string error)
    {
        Error = error;
        return SegmentReadStatus.Invalid;
    }

    public void Dispose() => _stream.Dispose();
}
