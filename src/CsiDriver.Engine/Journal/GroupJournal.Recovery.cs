using System.Diagnostics;

namespace CsiDriver.Engine.Journal;

internal sealed partial class GroupJournal
{
    /// <summary>Handles one record found after the checkpoint during recovery.</summary>
    public delegate void ReplayRecord(in RecordHeader header, ReadOnlySpan<byte> payload);

    /// <summary>
    /// Opens the journal in <paramref name="directory"/> (creating it if needed), replays every
    /// valid record after <paramref name="checkpointSequence"/> through <paramref name="replay"/>,
    /// and cuts off a torn or corrupt tail: the first record failing its checks ends the journal,
    /// its segment is truncated there and later segments are deleted. A segment whose header is
    /// bad ends the journal at its start: it and later segments are deleted, but every record
    /// before it still counts. (A kill inside <see cref="Roll"/> leaves exactly that: the next
    /// segment created, its header not yet written, or a spare renamed to it with its earlier
    /// life's header, which names another segment, while the segments before it hold records
    /// that may already be acknowledged.) Only segments from the one holding the checkpoint
    /// onwards are read, so recovery time is bounded by the journal written since the
    /// checkpoint; each but the newest only up to the record before the next one's start (a
    /// reused file holds its earlier life's bytes after that). Appends then continue in the
    /// newest segment when it can take them (see <see cref="Continue"/>: recovery needs no free
    /// space), else in a new one, in a spare when there is one. Spares past half the free space
    /// are deleted then: on a full disk they give their space back.
    /// </summary>
    /// <exception cref="InsufficientSpaceException">A new segment was needed and no space is left for it.</exception>
    public static GroupJournal Open(
        string directory, string name, long checkpointSequence, long segmentBytes, TimeProvider clock,
        ReplayRecord replay, out JournalRecoveryReport report)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (IOException e) when (Native.IsDiskFull(e))
        {
            throw new InsufficientSpaceException($"journal {name}: no space for its directory", e);
        }
        var journal = new GroupJournal(directory, segmentBytes, clock);
        journal.FindSpares();
        if (journal._spares.Count > 0)
        {
            // A spare is reused only once its rename is durable; a killed run may have left it unsynced.
            Native.SyncDirectory(directory);
        }
        var files = Directory.EnumerateFiles(directory, "journal-*.seg")
            .Select(path => (Path: path, Ok: JournalFormat.TryParseSegmentNumber(Path.GetFileName(path), out var n), Number: n))
            .Where(f => f.Ok)
            .OrderBy(f => f.Number)
            .ToList();
        string? headerCut = null;
        long cutBytes = 0;

        // Segment headers first: a bad header ends the journal there; the segments before it
        // are replayed below like any others.
        foreach (var file in files)
        {
            if (headerCut != null)
            {
                cutBytes += new FileInfo(file.Path).Length;
                File.Delete(file.Path);
                continue;
            }
            using var reader = SegmentReader.Open(file.Path, limit: null, out var error);
            if (reader != null && reader.Segment.Number != file.Number)
            {
                error = $"its header names segment {reader.Segment.Number} (a spare whose reuse was cut short)";
            }
            if (reader == null || error.Length > 0)
            {
                headerCut = $"{Path.GetFileName(file.Path)}: {error}";
                cutBytes += new FileInfo(file.Path).Length;
                File.Delete(file.Path);
                continue;
            }
            journal._segments.Add(new Segment(reader.Segment.Number, reader.Segment.StartSequence, file.Path, reader.Segment.Version)
            {
                Length = new FileInfo(file.Path).Length,
            });
        }

        string? cutReason = null;
        var last = checkpointSequence;
        var tailNext = checkpointSequence + 1; // the sequence the newest segment's end would hold next
        long replayed = 0, replayedBytes = 0;
        var first = journal._segments.FindLastIndex(s => s.StartSequence <= checkpointSequence + 1);
        for (var i = Math.Max(first, 0); i < journal._segments.Count && cutReason == null; i++)
        {
            var segment = journal._segments[i];
            // Replay writes data files: what it replays must be durable first (a crash of the
            // process leaves unsynced records in the page cache; a power cut after the restart
            // must not find them in a data file and not in the journal).
            SyncFile(segment.Path);
            using var reader = SegmentReader.Open(segment.Path, limit: null, out _)!;
            var expected = segment.StartSequence;
            var through = i + 1 < journal._segments.Count ? journal._segments[i + 1].StartSequence - 1 : long.MaxValue;
            if (expected > last + 1)
            {
                cutReason = $"{Path.GetFileName(segment.Path)}: records {last + 1}..{expected - 1} are missing";
            }
            // The journal ends at the end of the last record taken, not where the reader stopped:
            // a whole, checksummed record of a reused file's earlier life (a sequence not the one
            // due) has been read past. Cut after it, it would stay in front of the records
            // appended next, and the next recovery would stop at it and cut those off.
            var end = reader.Position;
            while (cutReason == null && expected <= through)
            {
                var status = reader.Next();
                if (status == SegmentReadStatus.End)
                {
                    break;
                }
                if (status == SegmentReadStatus.Record && reader.Header.Sequence != expected)
                {
                    status = SegmentReadStatus.Invalid;
                }
                if (status == SegmentReadStatus.Invalid)
                {
                    var reason = reader.Error.Length > 0 ? reader.Error : $"sequence {reader.Header.Sequence} where {expected} was due";
                    cutReason = $"{Path.GetFileName(segment.Path)}: {reason}";
                    break;
                }
                segment.Indexed(reader.Header.Sequence, reader.Position - reader.Header.TotalLength, journal._segments);
                if (reader.Header.Sequence > checkpointSequence)
                {
                    replay(reader.Header, reader.Payload.Span);
                    replayed++;
                    replayedBytes += reader.Header.TotalLength;
                }
                last = Math.Max(last, reader.Header.Sequence);
                expected++;
                end = reader.Position;
            }
            if (cutReason != null)
            {
                cutBytes += journal.CutAt(i, end);
            }
            else
            {
                segment.Length = end;
            }
            tailNext = expected;
        }

        // A cut inside the replayed segments is the earlier one; otherwise the header cut stands.
        cutReason ??= headerCut;
        journal._lastSequence = last;
        journal._expectedSegmentBytes = Math.Min(FloorBytes, segmentBytes);
        // Appends continue in the newest segment only where its records end at the last
        // sequence. A cut at a record the checkpoint already covers leaves the segment ending
        // below it: the next record, one past the checkpoint, goes into a new segment that says
        // where it starts, or the next recovery would find it out of sequence and cut it too.
        if (journal._segments.Count > 0
            && journal._segments[^1] is { Version: JournalFormat.Version } tail
            && tailNext == last + 1)
        {
            journal.Continue(tail);
            journal._active = tail;
        }
        else
        {
            var number = journal._segments.Count == 0 ? 1 : journal._segments[^1].Number + 1;
            journal._active = journal.StartSegment(number, last + 1, journal.SegmentSize(0), durable: true);
            journal._segments.Add(journal._active);
        }
        journal.TrimSparesToFreeSpace();
        report = new JournalRecoveryReport(name, checkpointSequence, last, replayed, replayedBytes, cutReason, cutBytes, Stopwatch.GetElapsedTime(started));
        return journal;
    }

    private static void SyncFile(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        Native.DataSync(handle);
    }

    /// <summary>Truncates segment <paramref name="index"/> at <paramref name="position"/> and deletes
    /// every later segment; returns the bytes discarded.</summary>
    private long CutAt(int index, long position)
    {
        var segment = _segments[index];
        var cut = segment.Length - position;
        using (var handle = File.OpenHandle(segment.Path, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(handle, position);
            Native.DataSync(handle);
        }
        segment.Length = position;
        foreach (var later in _segments.Skip(index + 1).ToList())
        {
            cut += later.Length;
            File.Delete(later.Path);
            _segments.Remove(later);
        }
        return cut;
    }
}
