namespace CsiDriver.Engine.Journal;

internal sealed partial class GroupJournal
{
    /// <summary>
    /// Records from <paramref name="fromSequence"/> up to the newest appended when the call is
    /// made, in order, each checked. The payload of a yielded record is valid until the next one
    /// is requested (the shipper copies what it keeps).
    /// </summary>
    /// <exception cref="OutOfRangeException">The records from there on were already released.</exception>
    /// <exception cref="CorruptionException">A record failed its checks.</exception>
    public IEnumerable<(RecordHeader Header, ReadOnlyMemory<byte> Payload)> Read(long fromSequence)
    {
        List<(string Path, long StartSequence, long Length)> segments;
        var last = LastSequence;
        lock (_segments)
        {
            if (fromSequence < _segments[0].StartSequence)
            {
                throw new OutOfRangeException(
                    $"journal records from {fromSequence} were released; the oldest held is {_segments[0].StartSequence}");
            }
            segments = _segments.Select(s => (s.Path, s.StartSequence, Volatile.Read(ref s.Length))).ToList();
        }
        var start = segments.FindLastIndex(s => s.StartSequence <= fromSequence);
        return ReadSegments(segments.Skip(start), fromSequence, last);
    }

    private static IEnumerable<(RecordHeader, ReadOnlyMemory<byte>)> ReadSegments(
        IEnumerable<(string Path, long StartSequence, long Length)> segments, long fromSequence, long lastSequence)
    {
        foreach (var segment in segments)
        {
            using var reader = SegmentReader.Open(segment.Path, segment.Length, out var error)
                ?? throw new CorruptionException($"{segment.Path}: {error}");
            while (true)
            {
                var status = reader.Next();
                if (status == SegmentReadStatus.End)
                {
                    break;
                }
                if (status == SegmentReadStatus.Invalid)
                {
                    throw new CorruptionException($"{segment.Path}: {reader.Error}");
                }
                if (reader.Header.Sequence > lastSequence)
                {
                    yield break;
                }
                if (reader.Header.Sequence >= fromSequence)
                {
                    yield return (reader.Header, reader.Payload);
                }
            }
        }
    }
}
