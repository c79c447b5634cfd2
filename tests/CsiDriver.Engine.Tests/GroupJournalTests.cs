using CsiDriver.Engine.Journal;

namespace CsiDriver.Engine.Tests;

/// <summary>The journal on its own, including the corruption tests: flipped bits, truncated
/// segments and damaged headers are detected, reported and cut off, never a crash.</summary>
public sealed class GroupJournalTests : IDisposable
{
    private const int Payload = 200;
    private const int RecordSize = JournalFormat.RecordHeaderSize + Payload;
    private readonly TempDirectory _directory = new();
    private readonly List<long> _replayed = [];

    public void Dispose() => _directory.Dispose();

    private string JournalPath => Path.Combine(_directory.Path, "j");

    private GroupJournal Open(long checkpoint, out JournalRecoveryReport report, long segmentBytes = 1 << 20)
    {
        _replayed.Clear();
        return GroupJournal.Open(JournalPath, "j", checkpoint, segmentBytes, TimeProvider.System,
            (in RecordHeader header, ReadOnlySpan<byte> payload) =>
            {
                Assert.Equal(Bytes.Pattern(Payload, (int)header.Sequence), payload.ToArray());
                _replayed.Add(header.Sequence);
            }, out report);
    }

    private void Fill(int count, long segmentBytes = 1 << 20)
    {
        using var journal = Open(0, out _, segmentBytes);
        for (var i = 0; i < count; i++)
        {
            var sequence = journal.LastSequence + 1;
            Assert.Equal(sequence, journal.Append(JournalRecordKind.Write, 1, sequence * 4096, Payload, Bytes.Pattern(Payload, (int)sequence), 0));
        }
    }

    private string[] Segments() => Directory.GetFiles(JournalPath, "*.seg").Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void ReplaysOnlyRecordsAfterTheCheckpointAndContinuesTheSequence()
    {
        Fill(10);
        using var journal = Open(4, out var report);
        Assert.Equal([5, 6, 7, 8, 9, 10], _replayed);
        Assert.Null(report.CutReason);
        Assert.Equal(11, journal.Append(JournalRecordKind.Trim, 1, 0, 4096, ReadOnlyMemory<byte>.Empty, 0));
    }

    [Fact]
    public void RollsSegmentsAndReadsAcrossThem()
    {
        Fill(50, segmentBytes: 4 * RecordSize);
        Assert.True(Segments().Length > 10);
        using var journal = Open(0, out _, 4 * RecordSize);
        Assert.Equal(Enumerable.Range(1, 50).Select(i => (long)i), _replayed);
        Assert.Equal(Enumerable.Range(7, 44).Select(i => (long)i), journal.Read(7).Select(r => r.Header.Sequence));
        journal.ReleaseThrough(20);
        Assert.True(journal.FirstSequence is > 1 and <= 21);
        Assert.Throws<OutOfRangeException>(() => journal.Read(1).ToList());
    }

    [Fact]
    public void TruncatedSegmentIsCutAtTheLastWholeRecord()
    {
        Fill(10);
        var segment = Segments()[0];
        File.SetAttributes(segment, FileAttributes.Normal);
        using (var stream = new FileStream(segment, FileMode.Open))
        {
            stream.SetLength(stream.Length - 7);
        }
        using (Open(0, out var report))
        {
            Assert.Equal(Enumerable.Range(1, 9).Select(i => (long)i), _replayed);
            Assert.Contains("torn", report.CutReason);
            Assert.Equal(RecordSize - 7, report.CutBytes);
        }
        using (Open(9, out var again))
        {
            Assert.Null(again.CutReason);
        }
    }

    [Fact]
    public void FlippedBitCutsFromThatRecordAndDropsLaterSegments()
    {
        Fill(40, segmentBytes: 10 * RecordSize);
        var first = Segments()[0];
        var bytes = File.ReadAllBytes(first);
        bytes[JournalFormat.SegmentHeaderSize + 5 * RecordSize + 100] ^= 0x08; // payload of record 6
        File.WriteAllBytes(first, bytes);
        using var journal = Open(0, out var report, 10 * RecordSize);
        Assert.Equal([1, 2, 3, 4, 5], _replayed);
        Assert.Contains("checksum", report.CutReason);
        Assert.Equal(5, report.LastSequence);
        Assert.Equal(6, journal.Append(JournalRecordKind.Write, 1, 0, 0, ReadOnlyMemory<byte>.Empty, 0));
    }

    /// <summary>Damage to a record the checkpoint already covers cuts the segment below the
    /// checkpoint; what is appended after that must survive the next recovery.</summary>
    [Fact]
    public void RecordsAppendedAfterACutBelowTheCheckpointAreReplayedNextTime()
    {
        Fill(10);
        var segment = Segments()[0];
        var bytes = File.ReadAllBytes(segment);
        bytes[JournalFormat.SegmentHeaderSize + 2 * RecordSize + 100] ^= 0x08; // payload of record 3
        File.WriteAllBytes(segment, bytes);
        using (var journal = Open(8, out var report))
        {
            Assert.Empty(_replayed);
            Assert.Contains("checksum", report.CutReason);
            Assert.Equal(8, report.LastSequence);
            for (long sequence = 9; sequence <= 11; sequence++)
            {
                Assert.Equal(sequence, journal.Append(JournalRecordKind.Write, 1, sequence * 4096, Payload, Bytes.Pattern(Payload, (int)sequence), 0));
            }
        }
        using (Open(8, out var again))
        {
            Assert.Null(again.CutReason);
            Assert.Equal([9, 10, 11], _replayed);
        }
    }

    [Fact]
    public void DamagedSegmentHeaderEndsTheJournalThere()
    {
        Fill(30, segmentBytes: 10 * RecordSize);
        var second = Segments()[1];
        var bytes = File.ReadAllBytes(second);
        Assert.True(SegmentHeader.TryParse(bytes, out var header, out _));
        bytes[3] ^= 0xFF;
        File.WriteAllBytes(second, bytes);
        using var journal = Open(0, out var report, 10 * RecordSize);
        Assert.Contains("magic", report.CutReason);
        Assert.Equal(Enumerable.Range(1, (int)header.StartSequence - 1).Select(i => (long)i), _replayed);
        Assert.Equal(header.StartSequence, journal.Append(JournalRecordKind.Write, 1, 0, 0, ReadOnlyMemory<byte>.Empty, 0));
    }

    /// <summary>A kill inside a roll leaves the next segment created but its header unwritten;
    /// the records before it (acknowledged ones among them) are all still replayed.</summary>
    [Fact]
    public void SegmentLeftEmptyByAnInterruptedRollLosesNoEarlierRecord()
    {
        Fill(25, segmentBytes: 10 * RecordSize);
        var segments = Segments();
        Assert.True(segments.Length >= 3);
        Assert.True(JournalFormat.TryParseSegmentNumber(Path.GetFileName(segments[^1]), out var newest));
        File.WriteAllBytes(Path.Combine(JournalPath, JournalFormat.SegmentFileName(newest + 1)), []);

        using (var journal = Open(12, out var report, 10 * RecordSize))
        {
            Assert.Equal(Enumerable.Range(13, 13).Select(i => (long)i), _replayed);
            Assert.Contains(JournalFormat.SegmentFileName(newest + 1), report.CutReason);
            Assert.Equal(25, report.LastSequence);
            Assert.Equal(26, journal.Append(JournalRecordKind.Write, 1, 26 * 4096, Payload, Bytes.Pattern(Payload, 26), 0));
        }
        using (Open(12, out var again, 10 * RecordSize))
        {
            Assert.Null(again.CutReason);
            Assert.Equal(Enumerable.Range(13, 14).Select(i => (long)i), _replayed);
        }
    }

    [Fact]
    public void RandomDamageIsDetectedAndCutsAtTheFirstDamagedRecord()
    {
        var random = new Random(11);
        for (var round = 0; round < 40; round++)
        {
            if (Directory.Exists(JournalPath))
            {
                Directory.Delete(JournalPath, recursive: true);
            }
            Fill(30, segmentBytes: 8 * RecordSize);
            var segments = Segments();
            var firstDamaged = JournalDamage.Inflict(segments[random.Next(segments.Length)], random);
            using var journal = Open(0, out var report, 8 * RecordSize);
            // Every record before the damage, in order, and none from it on.
            Assert.Equal(Enumerable.Range(1, (int)firstDamaged - 1).Select(i => (long)i), _replayed);
            if (_replayed.Count < 30)
            {
                Assert.NotNull(report.CutReason);
            }
        }
    }
}
