using CsiDriver.Engine.Journal;

namespace CsiDriver.Engine.Tests;

/// <summary>The resumable journal reader the shipper tails the journal with: it continues where
/// it stopped, starts inside a segment from an index point, never hands out a record still
/// being appended, and refuses to move into records released under it.</summary>
public sealed class JournalCursorTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private GroupJournal Open(long segmentBytes) =>
        GroupJournal.Open(Path.Combine(_directory.Path, "j"), "j", 0, segmentBytes, TimeProvider.System, (in RecordHeader _, ReadOnlySpan<byte> _) => { }, out _);

    /// <summary>Appends <paramref name="count"/> records whose payloads are patterns seeded by their sequence.</summary>
    private static void Append(GroupJournal journal, int count, int payloadBytes)
    {
        for (var i = 0; i < count; i++)
        {
            var sequence = journal.LastSequence + 1;
            journal.Append(JournalRecordKind.Write, 1, 0, payloadBytes, Bytes.Pattern(payloadBytes, (int)sequence), 0);
        }
    }

    private static List<long> Drain(JournalCursor cursor, int payloadBytes)
    {
        var read = new List<long>();
        while (cursor.TryNext(out var header, out var payload))
        {
            Assert.Equal(Bytes.Pattern(payloadBytes, (int)header.Sequence), payload.ToArray());
            read.Add(header.Sequence);
        }
        return read;
    }

    [Fact]
    public void ContinuesAfterCatchingUpAcrossSegmentRolls()
    {
        using var journal = Open(segmentBytes: 4 * (JournalFormat.RecordHeaderSize + 100));
        Append(journal, 3, 100);
        using var cursor = new JournalCursor(journal, 1);
        Assert.Equal([1, 2, 3], Drain(cursor, 100));
        Assert.Equal([], Drain(cursor, 100));
        Append(journal, 10, 100); // rolls twice or more
        Assert.Equal(Enumerable.Range(4, 10).Select(i => (long)i), Drain(cursor, 100));
        Assert.Equal(14, cursor.NextSequence);
    }

    /// <summary>Asserts that a reader of <paramref name="sequence"/> starts at most one index
    /// stride (1 MiB) before that record in its segment, whatever size the segments were given.</summary>
    private static void AssertStartsWithinAStride(GroupJournal journal, long sequence, int payloadBytes)
    {
        var place = journal.Locate(sequence);
        var header = new byte[JournalFormat.SegmentHeaderSize];
        using (var file = File.OpenHandle(place.Path))
        {
            RandomAccess.Read(file, header, 0);
        }
        Assert.True(SegmentHeader.TryParse(header, out var segment, out _));
        var record = JournalFormat.SegmentHeaderSize + (sequence - segment.StartSequence) * (JournalFormat.RecordHeaderSize + payloadBytes);
        Assert.InRange(place.Offset, record - (1 << 20), record);
    }

    [Fact]
    public void StartsInsideASegmentFromAnIndexPoint()
    {
        using var journal = Open(segmentBytes: 64 << 20);
        Append(journal, 100, 64 << 10);
        Assert.False(journal.Locate(77).Final);
        AssertStartsWithinAStride(journal, 77, 64 << 10);
        using var cursor = new JournalCursor(journal, 77);
        Assert.Equal(Enumerable.Range(77, 24).Select(i => (long)i), Drain(cursor, 64 << 10));
    }

    [Fact]
    public void RecoveredSegmentsAreIndexedByTheReplay()
    {
        long segment;
        using (var journal = Open(segmentBytes: 64 << 20))
        {
            Append(journal, 100, 64 << 10);
            segment = journal.Locate(77).Number;
        }
        using var reopened = Open(segmentBytes: 64 << 20);
        Assert.Equal(segment, reopened.Locate(77).Number); // appends continue in the recovered tail
        AssertStartsWithinAStride(reopened, 77, 64 << 10);
        using var cursor = new JournalCursor(reopened, 77);
        Assert.Equal(Enumerable.Range(77, 24).Select(i => (long)i), Drain(cursor, 64 << 10));
    }

    [Fact]
    public void RefusesToMoveIntoReleasedRecords()
    {
        using var journal = Open(segmentBytes: 4 * (JournalFormat.RecordHeaderSize + 100));
        Append(journal, 20, 100);
        using var cursor = new JournalCursor(journal, 1);
        Assert.True(cursor.TryNext(out _, out _));
        journal.ReleaseThrough(12);
        journal.RecycleReleased();
        // The segment it is in stays readable (deleted, its file still open); the next one is gone.
        Assert.Throws<OutOfRangeException>(() => Drain(cursor, 100));
        Assert.Throws<OutOfRangeException>(() => new JournalCursor(journal, 2));
    }

    [Fact]
    public async Task NeverSeesARecordStillBeingAppended()
    {
        // Records of very different sizes appended flat out while a cursor tails them: every one
        // it hands out is whole (its checksum and pattern match) and none is skipped.
        using var journal = Open(segmentBytes: 8 << 20);
        const int Records = 3000;
        var sizes = Enumerable.Range(0, Records + 1).Select(i => new Random(i).Next(1, 300 << 10)).ToArray();
        var writer = Task.Run(() =>
        {
            for (var i = 1; i <= Records; i++)
            {
                Assert.Equal(i, journal.Append(JournalRecordKind.Write, 1, 0, sizes[i], Bytes.Pattern(sizes[i], i), 0));
            }
        });
        using var cursor = new JournalCursor(journal, 1);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (cursor.NextSequence <= Records && DateTime.UtcNow < deadline)
        {
            if (cursor.TryNext(out var header, out var payload))
            {
                Assert.Equal(Bytes.Pattern(sizes[header.Sequence], (int)header.Sequence), payload.ToArray());
            }
        }
        await writer;
        Assert.Equal(Records + 1, cursor.NextSequence);
    }
}
