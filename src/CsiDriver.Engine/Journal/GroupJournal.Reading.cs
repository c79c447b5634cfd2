namespace CsiDriver.Engine.Journal;

/// <summary>Where a reader of the journal stands in one segment: its path, the offset to scan
/// from, the length published so far, whether that length is final (the segment was rolled),
/// and then its last record's sequence (the next segment's start less one: a reused file's
/// bytes after that record are not records of this segment).</summary>
internal readonly record struct SegmentPlace(long Number, string Path, long Offset, long Length, bool Final, long LastSequence);

internal sealed partial class GroupJournal
{
    /// <summary>The segment holding <paramref name="sequence"/> (the newest one when the sequence
    /// is not appended yet) and the index point to scan from. The caller reads it until
    /// <see cref="Leave"/>: released meanwhile, it is deleted rather than kept as a spare.</summary>
    /// <exception cref="OutOfRangeException">The record was already released.</exception>
    public SegmentPlace Locate(long sequence)
    {
        lock (_segments)
        {
            if (sequence < _segments[0].StartSequence)
            {
                throw Released(sequence);
            }
            var segment = _segments.FindLast(s => s.StartSequence <= sequence)!;
            segment.Readers++;
            return PlaceOf(segment, segment.StartOf(sequence));
        }
    }

    /// <summary>The reader that located segment <paramref name="number"/> is done with it.</summary>
    public void Leave(long number)
    {
        lock (_segments)
        {
            if (_segments.Find(s => s.Number == number) is { } segment)
            {
                segment.Readers--;
            }
        }
    }

    /// <summary>Segment <paramref name="number"/>'s length now and whether it is final. A segment is
    /// rolled (its length final) under this lock, after its last append published its length.</summary>
    /// <exception cref="OutOfRangeException">The segment was released while a reader was at <paramref name="sequence"/> in it.</exception>
    public SegmentPlace Tail(long number, long sequence)
    {
        lock (_segments)
        {
            var segment = _segments.Find(s => s.Number == number) ?? throw Released(sequence);
            return PlaceOf(segment, 0);
        }
    }

    /// <summary>Caller holds the segment list.</summary>
    private SegmentPlace PlaceOf(Segment segment, long offset)
    {
        var next = _segments.IndexOf(segment) + 1;
        var last = next < _segments.Count ? _segments[next].StartSequence - 1 : long.MaxValue;
        return new SegmentPlace(segment.Number, segment.Path, offset, Volatile.Read(ref segment.Length), segment != _active, last);
    }

    /// <summary>
    /// Records from <paramref name="fromSequence"/> up to the newest appended when the call is
    /// made, in order, each checked. The payload of a yielded record is valid until the next one
    /// is requested.
    /// </summary>
    /// <exception cref="OutOfRangeException">The records from there on were already released.</exception>
    /// <exception cref="CorruptionException">A record failed its checks.</exception>
    public IEnumerable<(RecordHeader Header, ReadOnlyMemory<byte> Payload)> Read(long fromSequence)
    {
        var last = LastSequence;
        return ReadThrough(new JournalCursor(this, fromSequence), last);

        static IEnumerable<(RecordHeader, ReadOnlyMemory<byte>)> ReadThrough(JournalCursor cursor, long last)
        {
            using (cursor)
            {
                while (cursor.NextSequence <= last && cursor.TryNext(out var header, out var payload))
                {
                    yield return (header, payload);
                }
            }
        }
    }

    /// <summary>Caller holds the segment list.</summary>
    private OutOfRangeException Released(long sequence) =>
        new($"journal records from {sequence} were released; the oldest held is {_segments[0].StartSequence}");
}
