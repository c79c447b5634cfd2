namespace CsiDriver.Engine.Journal;

/// <summary>
/// Spares: released segment files kept to be started again as new segments. Appending into a
/// new file costs fresh page-cache pages and new extents (and, at every flush, the metadata that
/// marks them written); a spare's blocks are allocated and written already and often still
/// cached, so a roll into one overwrites them in place and its flushes have no metadata to write.
/// <list type="bullet">
/// <item>Release takes a segment out of the journal in memory; recycling it afterwards (see
/// <see cref="RecycleReleased"/>) renames <c>journal-N.seg</c> to <c>journal-N.spare</c> and syncs the directory
/// before the spare may be reused, so after a crash no <c>journal-N.seg</c> ever holds another
/// life's bytes. A roll renames it to the new segment's name and overwrites its header, then its
/// records (see <see cref="StartSegment"/>).</item>
/// <item>Only records at or below a durable checkpoint are released (see <see cref="ReleaseThrough"/>),
/// so every record a spare holds has a sequence below the start of any segment it becomes: the
/// sequence check never takes one for a record of the new life (see JournalFormat.cs).</item>
/// <item>Not kept: a segment a cursor is reading (it is deleted, so its bytes stay as they were
/// for that cursor), and anything past the bound: the spares hold at most what the journal
/// appended since the previous release (about what it needs until the next checkpoint releases
/// again) and at most half the free space. The rest are deleted, at release and when the journal
/// opens, so on a full disk the spares give their space back (and opening needs none).</item>
/// <item>What a spare holds counts against the next segment the journal expects to start
/// (<see cref="ReservedBytes"/>): a roll into it claims only what it lacks.</item>
/// </list>
/// Files a recovery cut off are deleted, never kept: their sequences are issued again.
/// </summary>
internal sealed partial class GroupJournal
{
    /// <summary>The spares, the most recently released (the likeliest cached) last. Guarded by the segment list.</summary>
    private readonly List<SpareFile> _spares = [];

    /// <summary><see cref="AppendedBytes"/> at the previous release.</summary>
    private long _appendedAtRelease;

    /// <summary>Released segments renamed to spares whose renames the directory has not been synced
    /// for yet: not to be reused before. Guarded by the recycling lock.</summary>
    private readonly List<SpareFile> _renamed = [];

    /// <summary>Files to delete: released segments a cursor was reading, spares past the bound.
    /// Guarded by the recycling lock.</summary>
    private readonly List<string> _unlinking = [];

    /// <summary>Keeps the released segments (oldest first) as spares, and deletes those a cursor
    /// is reading and the oldest spares past the bound. Each step drops its item from its list
    /// only once done, so an error (a failed rename, sync or delete) leaves the rest, and the
    /// step that failed, to the next call instead of leaving their files until the next opening.
    /// The deletes come after the directory sync, as when nothing fails.</summary>
    private void Spare()
    {
        List<Segment> released;
        lock (_segments)
        {
            released = [.. _released];
        }
        if (released.Count == 0 && _renamed.Count == 0 && _unlinking.Count == 0)
        {
            return;
        }
        foreach (var segment in released)
        {
            // A number is issued again only after a cut deleted every segment from it on, so a
            // spare of that name can be left only when a damaged header cut the whole journal.
            var path = Path.Combine(_directory, JournalFormat.SpareFileName(segment.Number));
            bool read;
            lock (_segments)
            {
                read = segment.Readers > 0;
                _spares.RemoveAll(s => s.Path == path);
            }
            if (read)
            {
                _unlinking.Add(segment.Path);
            }
            else
            {
                File.Move(segment.Path, path, overwrite: true);
                _renamed.Add(new SpareFile(path, new FileInfo(path).Length));
            }
            lock (_segments)
            {
                _released.Remove(segment);
            }
        }
        if (_renamed.Count > 0)
        {
            Native.SyncDirectory(_directory);
        }
        var appended = AppendedBytes;
        var bound = Math.Min(appended - _appendedAtRelease, new DriveInfo(_directory).AvailableFreeSpace / 2);
        _appendedAtRelease = appended;
        lock (_segments)
        {
            _spares.AddRange(_renamed);
            _unlinking.AddRange(Trim(bound));
        }
        _renamed.Clear();
        while (_unlinking.Count > 0)
        {
            File.Delete(_unlinking[^1]);
            _unlinking.RemoveAt(_unlinking.Count - 1);
        }
    }

    /// <summary>Removes the oldest spares until they hold at most <paramref name="bound"/> bytes;
    /// returns their paths. Caller holds the segment list.</summary>
    private List<string> Trim(long bound)
    {
        var trimmed = new List<string>();
        var held = _spares.Sum(s => s.Bytes);
        while (held > bound && _spares.Count > 0)
        {
            held -= _spares[0].Bytes;
            trimmed.Add(_spares[0].Path);
            _spares.RemoveAt(0);
        }
        return trimmed;
    }

    /// <summary>Renames the newest spare to <paramref name="segmentPath"/>; returns its length
    /// (0 when there is none: the caller creates the file).</summary>
    private long TakeSpare(string segmentPath)
    {
        SpareFile spare;
        lock (_segments)
        {
            if (_spares.Count == 0)
            {
                return 0;
            }
            spare = _spares[^1];
            _spares.RemoveAt(_spares.Count - 1);
        }
        File.Move(spare.Path, segmentPath);
        return Math.Max(spare.Bytes, JournalFormat.SegmentHeaderSize);
    }

    /// <summary>At opening: the spares a previous run left (the caller syncs the directory: a killed
    /// run may have left their renames unsynced). A spare whose header does not name the segment
    /// it was is deleted: a roll into it was cut short after its new header and records reached
    /// the disk but before its rename did, so it holds records of a life recovery never saw, under
    /// a header naming the next segment. Kept, a later roll issuing that number again could take
    /// it, and a cut losing that roll's rewrite of the header (the rename committed by the file
    /// system before the overwritten blocks) would leave those records whole under the right name
    /// and sequences: a history the journal never had, replayed.</summary>
    private void FindSpares()
    {
        var found = Directory.EnumerateFiles(_directory, "journal-*.spare")
            .Select(path => (Path: path, Ok: JournalFormat.TryParseSpareNumber(System.IO.Path.GetFileName(path), out var n), Number: n))
            .Where(f => f.Ok)
            .OrderBy(f => f.Number);
        foreach (var (path, _, number) in found)
        {
            if (NamesItself(path, number))
            {
                _spares.Add(new SpareFile(path, new FileInfo(path).Length));
            }
            else
            {
                File.Delete(path);
            }
        }
    }

    private static bool NamesItself(string spare, long number)
    {
        using var reader = SegmentReader.Open(spare, limit: null, out _);
        return reader?.Segment.Number == number;
    }

    /// <summary>At opening, once a segment to append to is chosen: deletes the spares past half the free space.</summary>
    private void TrimSparesToFreeSpace()
    {
        List<string> trimmed;
        lock (_segments)
        {
            trimmed = Trim(new DriveInfo(_directory).AvailableFreeSpace / 2);
        }
        trimmed.ForEach(File.Delete);
    }

    private readonly record struct SpareFile(string Path, long Bytes);
}
