using System.Buffers.Binary;
using System.Globalization;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Tests.Nbd;

namespace CsiDriver.Engine.Tests;

/// <summary>
/// Released journal segments reused as spares (GroupJournal.Spares.cs): a roll starts the next
/// segment in a spare, in place; the bytes a reused file keeps from its earlier life are never
/// replayed nor read as records, whether the journal was closed or crashed; a reuse cut short
/// ends the journal there; and a segment a cursor is reading is never reused under it. A crash
/// is the journal abandoned without closing (its appends are in the page cache, nothing cut);
/// the checkpoint given on reopening is the point released through, as in the engine.
/// </summary>
public sealed class SpareSegmentTests : IDisposable
{
    private const int Payload = 200;
    private const int RecordSize = JournalFormat.RecordHeaderSize + Payload;
    private const long SegmentBytes = 4 * RecordSize;
    private readonly TempDirectory _directory = new();
    private readonly List<long> _replayed = [];

    public void Dispose() => _directory.Dispose();

    private string JournalPath => Path.Combine(_directory.Path, "j");

    private GroupJournal Open(long checkpoint, out JournalRecoveryReport report, long segmentBytes = SegmentBytes, int payload = Payload)
    {
        _replayed.Clear();
        return GroupJournal.Open(JournalPath, "j", checkpoint, segmentBytes, TimeProvider.System,
            (in RecordHeader header, ReadOnlySpan<byte> bytes) =>
            {
                Assert.Equal(Bytes.Pattern(payload, (int)header.Sequence), bytes.ToArray());
                _replayed.Add(header.Sequence);
            }, out report);
    }

    private static void Append(GroupJournal journal, int count, int payload = Payload)
    {
        for (var i = 0; i < count; i++)
        {
            var sequence = journal.LastSequence + 1;
            Assert.Equal(sequence, journal.Append(JournalRecordKind.Write, 1, sequence * 4096, payload, Bytes.Pattern(payload, (int)sequence), 0));
        }
    }

    private string[] Files(string pattern) => Directory.GetFiles(JournalPath, pattern).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Appends until the journal has <paramref name="segments"/> segments, then releases
    /// every one but the active; returns the sequence released through.</summary>
    private long FillAndRelease(GroupJournal journal, int segments, int payload = Payload)
    {
        while (Files("*.seg").Length < segments)
        {
            Append(journal, 1, payload);
        }
        journal.ReleaseThrough(journal.LastSequence);
        journal.RecycleReleased();
        Assert.Single(Files("*.seg"));
        Assert.True(Files("*.spare").Length >= segments - 2, "the released segments are kept as spares (within the bound)");
        return journal.FirstSequence - 1;
    }

    /// <summary>Appends until the journal rolled into a spare, then <paramref name="more"/> records.</summary>
    private static void AppendIntoASpare(GroupJournal journal, Func<int> spares, int more)
    {
        var before = spares();
        while (spares() == before)
        {
            Append(journal, 1);
        }
        Append(journal, more);
    }

    [Fact]
    public void A_roll_starts_the_next_segment_in_a_spare_in_place()
    {
        using var journal = Open(0, out _);
        FillAndRelease(journal, 4);
        var spares = Files("*.spare");
        var newest = spares[^1];
        var length = new FileInfo(newest).Length;
        var segments = Files("*.seg").Length;

        AppendIntoASpare(journal, () => Files("*.spare").Length, more: 0);

        Assert.False(File.Exists(newest), "the most recently released spare is reused first");
        Assert.Equal(spares.Length - 1, Files("*.spare").Length);
        Assert.Equal(segments + 1, Files("*.seg").Length);
        // The file keeps its earlier length: the records overwrite it in place.
        Assert.Equal(length, new FileInfo(Files("*.seg")[^1]).Length);
    }

    /// <summary>A spare whose pages left the page cache (after a reboot, or to memory pressure) is
    /// read a little ahead of the appends once a roll takes it: otherwise each record ending inside
    /// a page waits, under the group's gate, for that page to be read from the disk. Failed so
    /// before the change: "69632 bytes of the spare are cached 10 s after the roll into it" (its
    /// header and the record that rolled into it).</summary>
    [Fact]
    public async Task A_spare_gone_from_the_page_cache_is_read_ahead_of_the_appends()
    {
        const int Big = 64 << 10;
        const long Segments = 8 * GroupJournal.FloorBytes;
        using var journal = Open(0, out _, Segments, Big);
        FillAndRelease(journal, 4, Big);
        journal.Sync(); // dirty pages would stay cached
        var spare = Files("*.spare")[^1];
        await ExternalTool.RunAsync("dd", [$"if={spare}", "iflag=nocache", "count=0"], ToolTimeout);
        Assert.True(await CachedBytesAsync(spare) < GroupJournal.FloorBytes, "the spare's pages were dropped from the page cache");

        var spares = Files("*.spare").Length;
        while (Files("*.spare").Length == spares)
        {
            Append(journal, 1, Big);
        }

        // Read ahead: at least the 2 MiB past the record that rolled into it (the window 1 MiB at a time).
        var segment = Files("*.seg")[^1];
        var cached = await CachedBytesAsync(segment);
        for (var wait = 0; wait < 200 && cached < 2 * GroupJournal.FloorBytes; wait++)
        {
            await Task.Delay(50);
            cached = await CachedBytesAsync(segment);
        }
        Assert.True(cached >= 2 * GroupJournal.FloorBytes, $"{cached} bytes of the spare are cached 10 s after the roll into it");
    }

    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Bytes of the file in the page cache (util-linux fincore).</summary>
    private static async Task<long> CachedBytesAsync(string path) => long.Parse(
        (await ExternalTool.RunAsync("fincore", ["--bytes", "--noheadings", "--output", "RES", path], ToolTimeout)).Trim(),
        CultureInfo.InvariantCulture);

    /// <summary>Records of equal size: after the new life's records, the reused file holds whole,
    /// checksummed records of its earlier life at exactly the offset the next record would be.</summary>
    [Fact]
    public void A_reused_segments_stale_tail_is_never_replayed_after_a_crash()
    {
        var journal = Open(0, out _);
        var released = FillAndRelease(journal, 4);
        AppendIntoASpare(journal, () => Files("*.spare").Length, more: 1);
        var last = journal.LastSequence;
        var newest = Files("*.seg")[^1];
        Assert.True(new FileInfo(newest).Length > JournalFormat.SegmentHeaderSize + 2 * RecordSize, "the reused file has a stale tail");
        // A crash: the journal is abandoned, not closed.

        using (var reopened = Open(released, out var report))
        {
            Assert.Equal(Enumerable.Range((int)released + 1, (int)(last - released)).Select(i => (long)i), _replayed);
            Assert.Equal(last, report.LastSequence);
            Assert.Contains("where", report.CutReason); // a stale record's sequence where the next was due
            Assert.Equal(last + 1, reopened.Append(JournalRecordKind.Write, 1, 0, 0, ReadOnlyMemory<byte>.Empty, 0));
        }
        GC.KeepAlive(journal);
    }

    /// <summary>Two crashes in a row. Records of equal size, and segments past the floor, so the
    /// first recovery finds a whole stale record where the next was due and appends then go on in
    /// that segment: they must follow the last record taken, not the stale one (read past
    /// already), or the second recovery stops at it and cuts them off. Failed so before the fix:
    /// "sequence 49 where 111 was due", the second life's records lost.</summary>
    [Fact]
    public void Records_appended_after_a_cut_stale_tail_survive_the_next_crash()
    {
        const int Big = 64 << 10;
        const long Segments = 2 * GroupJournal.FloorBytes;
        var journal = Open(0, out _, Segments, Big);
        var released = FillAndRelease(journal, 4, Big);
        var spares = Files("*.spare").Length;
        while (Files("*.spare").Length == spares)
        {
            Append(journal, 1, Big);
        }
        Append(journal, 1, Big);
        // A crash: abandoned, not closed.

        var second = Open(released, out var first, Segments, Big);
        Assert.Contains("where", first.CutReason);
        Append(second, 3, Big);
        var last = second.LastSequence;
        // A second crash.

        using (var third = Open(released, out var report, Segments, Big))
        {
            Assert.Null(report.CutReason); // the first recovery cut the file at its records
            Assert.Equal(last, report.LastSequence);
            Assert.Equal(Enumerable.Range((int)released + 1, (int)(last - released)).Select(i => (long)i), _replayed);
        }
        GC.KeepAlive(journal);
        GC.KeepAlive(second);
    }

    /// <summary>Every segment but the newest is read only up to the record before the next one's
    /// start, by recovery and by readers, after a clean close and after a crash.</summary>
    [Fact]
    public void Records_after_reused_segments_are_all_replayed_and_read()
    {
        long released, last;
        using (var journal = Open(0, out _, segmentBytes: 2 * SegmentBytes))
        {
            released = FillAndRelease(journal, 6);
            journal.SegmentBytes = SegmentBytes; // the reused files are longer than their new records
            var spares = Files("*.spare").Length;
            while (Files("*.spare").Length > 0)
            {
                Append(journal, 1);
            }
            Append(journal, 2 * spares); // and on into new files
            last = journal.LastSequence;
        }
        var all = Enumerable.Range((int)released + 1, (int)(last - released)).Select(i => (long)i).ToList();

        using (var reopened = Open(released, out var report))
        {
            Assert.Null(report.CutReason);
            Assert.Equal(all, _replayed);
        }
        // Opened past them all, the reused segments are not read by recovery; a reader still reads them.
        var crashed = Open(last, out var again);
        Assert.Null(again.CutReason);
        Assert.Empty(_replayed);
        Assert.Equal(all, crashed.Read(released + 1).Select(r => r.Header.Sequence));
        Append(crashed, 1);
        using (var reopened = Open(released, out var third))
        {
            Assert.Equal([.. all, last + 1], _replayed);
        }
        GC.KeepAlive(crashed);
    }

    /// <summary>A crash inside a roll into a spare can leave the rename durable and the new header
    /// not: the file under the new segment's name still has its earlier life's header.</summary>
    [Fact]
    public void A_spare_under_a_segments_name_with_its_old_header_ends_the_journal_there()
    {
        long released, last, newest;
        using (var journal = Open(0, out _))
        {
            released = FillAndRelease(journal, 4);
            Append(journal, 1);
            last = journal.LastSequence;
        }
        Assert.True(JournalFormat.TryParseSegmentNumber(Path.GetFileName(Files("*.seg")[^1]), out newest));
        var spare = Files("*.spare")[^1];
        File.Move(spare, Path.Combine(JournalPath, JournalFormat.SegmentFileName(newest + 1)));

        using (var journal = Open(released, out var report))
        {
            Assert.Contains("names segment", report.CutReason);
            Assert.Equal(Enumerable.Range((int)released + 1, (int)(last - released)).Select(i => (long)i), _replayed);
            Assert.Equal(last, report.LastSequence);
            Assert.False(File.Exists(Path.Combine(JournalPath, JournalFormat.SegmentFileName(newest + 1))));
            Assert.Equal(
                Enumerable.Range((int)released + 1, (int)(last - released)).Select(i => (long)i),
                journal.Read(released + 1).Select(r => r.Header.Sequence));
            Assert.Equal(last + 1, journal.Append(JournalRecordKind.Write, 1, 0, 0, ReadOnlyMemory<byte>.Empty, 0));
        }
    }

    /// <summary>A roll into a spare whose header and records reached the disk but whose rename did
    /// not: the file is a spare again, with a header naming the segment after the journal's last
    /// and records recovery never saw. Kept, the roll issuing that number again after recovery
    /// would take it (the newest spare); a cut losing that roll's writes but not its rename (the
    /// file system may commit the rename before the overwritten blocks) then left the old header
    /// and records whole under the right name and sequences, and recovery replayed a life the
    /// journal never had (before such spares were deleted at opening: recovered through 14, not 12).</summary>
    [Fact]
    public void A_spare_left_by_a_roll_whose_rename_was_lost_is_not_reused()
    {
        var journal = Open(0, out _);
        var released = FillAndRelease(journal, 4);
        var spares = Files("*.spare");
        AppendIntoASpare(journal, () => Files("*.spare").Length, more: 1);
        var lost = spares.Except(Files("*.spare")).Single();
        var start = journal.LastSequence - 1; // the roll's record, the first of the new segment
        // A crash before the directory was synced: the rename is undone, the file's writes stay.
        File.Move(Files("*.seg")[^1], lost);

        var reopened = Open(released, out _);
        Assert.Equal(start - 1, reopened.LastSequence);
        Assert.False(File.Exists(lost), "the spare holding the cut-short roll's records is deleted");
        var before = Files("*.spare").ToDictionary(path => path, File.ReadAllBytes);
        AppendIntoASpare(reopened, () => Files("*.spare").Length, more: 1);
        Assert.Equal(start, reopened.LastSequence - 1); // the same segment number and start, issued again
        // A crash losing the roll's writes but not its rename: the file holds what it held as a spare.
        var taken = before.Keys.Except(Files("*.spare")).Single();
        File.WriteAllBytes(Files("*.seg")[^1], before[taken]);

        using (var recovered = Open(released, out var report))
        {
            Assert.Contains("names segment", report.CutReason);
            Assert.Equal(start - 1, report.LastSequence);
            Assert.Equal(Enumerable.Range((int)released + 1, (int)(start - 1 - released)).Select(i => (long)i), _replayed);
        }
        GC.KeepAlive(journal);
        GC.KeepAlive(reopened);
    }

    /// <summary>Segments bigger than a cursor's 1 MiB window, so it reads the file as it goes: a
    /// segment released under it is deleted, not reused (though the most recently released, it
    /// would be the first), and it reads on to its end unchanged.</summary>
    [Fact]
    public void A_segment_a_cursor_is_reading_is_never_reused_under_it()
    {
        const int Big = 256 << 10;
        using var journal = Open(0, out _, segmentBytes: 12L * Big, payload: Big);
        while (Files("*.seg").Length < 3)
        {
            Append(journal, 1, Big);
        }
        var (second, third) = (StartOf(Files("*.seg")[1]), StartOf(Files("*.seg")[2]));
        Assert.True(third - second > 4, "the segment read is bigger than the cursor's window");
        using var cursor = new JournalCursor(journal, second);
        Assert.True(cursor.TryNext(out _, out _));

        journal.ReleaseThrough(third - 1);
        journal.RecycleReleased();
        Assert.Single(Files("*.spare")); // the first segment only
        Append(journal, 24, Big); // rolls into that spare, then into new files

        var read = new List<long>();
        while (cursor.TryNext(out var header, out var payload))
        {
            Assert.Equal(Bytes.Pattern(Big, (int)header.Sequence), payload.ToArray());
            read.Add(header.Sequence);
        }
        Assert.Equal(Enumerable.Range((int)second + 1, (int)(journal.LastSequence - second)).Select(i => (long)i), read);
    }

    /// <summary>A recycle that fails part way (here a rename, the second spare's name taken by a
    /// directory) reports the error and leaves what it did not finish to the next call: once the
    /// obstacle is gone, every released segment is a spare the journal rolls into. Failed so
    /// before the change: the segments taken out for the failed call were lost to the journal,
    /// their files left as segments (and the spare renamed before the failure never reused)
    /// until the next opening.</summary>
    [Fact]
    public void A_recycle_failing_part_way_leaves_the_rest_for_the_next()
    {
        using var journal = Open(0, out _);
        while (Files("*.seg").Length < 4)
        {
            Append(journal, 1);
        }
        Assert.True(JournalFormat.TryParseSegmentNumber(Path.GetFileName(Files("*.seg")[1]), out var second));
        var obstacle = Path.Combine(JournalPath, JournalFormat.SpareFileName(second));
        Directory.CreateDirectory(Path.Combine(obstacle, "taken"));
        journal.ReleaseThrough(journal.LastSequence);

        Assert.ThrowsAny<IOException>(journal.RecycleReleased);
        Assert.Equal(3, Files("*.seg").Length); // the first renamed, the second failed, the third not reached

        Directory.Delete(obstacle, recursive: true);
        journal.RecycleReleased();
        Assert.Single(Files("*.seg"));
        Assert.Equal(3, Files("*.spare").Length);
        for (var spares = 3; spares > 0; spares--)
        {
            AppendIntoASpare(journal, () => Files("*.spare").Length, more: 0);
            Assert.Equal(spares - 1, Files("*.spare").Length);
        }
    }

    /// <summary>A journal written before spares (version 2, no stale bytes anywhere) is read as
    /// it was; appends go to a new segment in the current version.</summary>
    [Fact]
    public void Version_2_segments_stay_readable()
    {
        long last;
        using (var journal = Open(0, out _))
        {
            Append(journal, 10);
            last = journal.LastSequence;
        }
        foreach (var segment in Files("*.seg"))
        {
            var bytes = File.ReadAllBytes(segment);
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(4), 2);
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(6), 2);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(60), Crc32C.Compute(bytes.AsSpan(0, 60)));
            File.WriteAllBytes(segment, bytes);
        }
        var written = Files("*.seg");

        using (var journal = Open(0, out var report))
        {
            Assert.Null(report.CutReason);
            Assert.Equal(Enumerable.Range(1, (int)last).Select(i => (long)i), _replayed);
            Assert.Equal(last + 1, journal.Append(JournalRecordKind.Write, 1, 0, 0, ReadOnlyMemory<byte>.Empty, 0));
        }
        var added = Assert.Single(Files("*.seg").Except(written));
        var header = new byte[JournalFormat.SegmentHeaderSize];
        using (var file = File.OpenHandle(added))
        {
            RandomAccess.Read(file, header, 0);
        }
        Assert.True(SegmentHeader.TryParse(header, out var parsed, out _));
        Assert.Equal(JournalFormat.Version, parsed.Version);
    }

    private static long StartOf(string segment)
    {
        var header = new byte[JournalFormat.SegmentHeaderSize];
        using (var file = File.OpenHandle(segment))
        {
            RandomAccess.Read(file, header, 0);
        }
        Assert.True(SegmentHeader.TryParse(header, out var parsed, out _));
        return parsed.StartSequence;
    }
}
