using System.Diagnostics;

namespace CsiDriver.Engine.Journal;

/// <summary>
/// What a journal takes from the disk, and what it sets aside.
/// <list type="bullet">
/// <item>A segment is sized when it starts, by the rate the group wrote the one before: about
/// <see cref="Horizon"/> of writes, at least <see cref="FloorBytes"/> (what an idle or small
/// volume's journal costs), at most <see cref="SegmentBytes"/>, and at most half the free space.
/// Its blocks are reserved then (fallocate, keeping the file's length at its records), as far as
/// the space allows: appends into them allocate nothing; appends past them allocate as they go.</item>
/// <item>After recovery the newest segment is appended to again, so opening needs no free space
/// at all; it is rolled once a record no longer fits (at the latest when it reaches the floor).</item>
/// <item>What the journal may still claim, <see cref="ReservedBytes"/>: the part of its active
/// segment it holds no blocks for yet, and a next segment the size it expects, less what the
/// spare it would start it in holds already (GroupJournal.Spares.cs). The engine does not report
/// that space as available, so a volume created in the capacity it reports never takes the room
/// a journal needs to roll.</item>
/// </list>
/// Running out of space is an <see cref="InsufficientSpaceException"/> from the append that
/// needed it (front ends: ENOSPC, RESOURCE_EXHAUSTED); the journal stays as it was.
/// </summary>
internal sealed partial class GroupJournal
{
    /// <summary>The smallest segment started (unless <see cref="SegmentBytes"/> is smaller).</summary>
    public const long FloorBytes = 1 << 20;

    /// <summary>A segment holds about this much of the group's writes at the rate it last wrote.</summary>
    private static readonly TimeSpan Horizon = TimeSpan.FromSeconds(1);

    /// <summary>The size the next segment is expected to have: the last one started (the floor
    /// when none was yet). Guarded by the segment list.</summary>
    private long _expectedSegmentBytes;

    /// <summary>Free bytes this journal may still claim: what its active segment holds no blocks
    /// for yet, up to its size, and what the next segment it expects to start needs beyond the
    /// spare it would start it in.</summary>
    public long ReservedBytes
    {
        get
        {
            lock (_segments)
            {
                var largest = SegmentBytes;
                var unheld = Math.Min(_active.Limit, largest) - Math.Max(_active.Allocated, Volatile.Read(ref _active.Length));
                var spare = _spares.Count > 0 ? _spares[^1].Bytes : 0;
                return Math.Max(0, unheld) + Math.Max(0, Math.Min(_expectedSegmentBytes, largest) - spare);
            }
        }
    }

    /// <summary>The size for a segment after <paramref name="finished"/>: its write rate over the horizon.</summary>
    private long NextSegmentBytes(Segment finished)
    {
        var seconds = Math.Max(Stopwatch.GetElapsedTime(finished.Started).TotalSeconds, 1e-3);
        var rate = (Volatile.Read(ref finished.Length) - finished.LengthAtStart) / seconds;
        return SegmentSize((long)Math.Min(rate * Horizon.TotalSeconds, long.MaxValue / 2));
    }

    /// <summary><paramref name="wanted"/> within the floor, the largest segment and half the free space.</summary>
    private long SegmentSize(long wanted)
    {
        var free = new DriveInfo(_directory).AvailableFreeSpace;
        return Math.Min(SegmentBytes, Math.Max(FloorBytes, Math.Min(wanted, free / 2)));
    }

    /// <summary>After recovery: appends continue in <paramref name="tail"/> (records up to the last
    /// recovered one, written in the current format), up to the floor or the size it has. Its
    /// blocks up to there are reserved again if the space allows (those it still holds cost nothing).</summary>
    private void Continue(Segment tail)
    {
        tail.Handle = File.OpenHandle(tail.Path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        tail.Limit = Math.Max(tail.Length, Math.Min(FloorBytes, SegmentBytes));
        tail.Allocated = Native.Reserve(tail.Handle, tail.Length, tail.Limit - tail.Length) ? tail.Limit : tail.Length;
        tail.Started = Stopwatch.GetTimestamp();
        tail.LengthAtStart = tail.Length;
    }
}
