using System.Diagnostics;

namespace CsiDriver.Engine;

/// <summary>
/// Stops writers of some groups for a moment: takes each group's overlay apply gate and then its
/// gate, group by group in ordinal order of journal name (one fixed order for everyone, so two
/// pauses cannot deadlock), then each member volume's apply lock. Unless told not to, it then
/// drains each group's write overlay (a journal sync, then the pending updates applied), so the
/// data files reflect every record: what a snapshot, a resize or a move must build on. It commits
/// the overlays once before taking the locks, so writers are held only for the sync of what they
/// wrote in between (if anything).
/// While it is held, every group's sequence is a clean cut. Synchronous by design: the locks
/// have thread affinity and the pause must not span an await.
/// </summary>
internal sealed class GroupPause : IDisposable
{
    private readonly List<ConsistencyGroup> _groups;
    private readonly List<Volume> _volumes = [];
    private readonly long _started;
    private int _entered;

    /// <param name="drain">False for the checkpoint's cut, which keeps writers held only for a
    /// moment and names each group's <see cref="WriteOverlay.AppliedThrough"/> instead.</param>
    /// <exception cref="InsufficientSpaceException">Draining found no space in a data file; nothing is held.</exception>
    public GroupPause(IEnumerable<ConsistencyGroup> groups, bool drain = true)
    {
        _groups = groups.Distinct().OrderBy(g => g.JournalName, StringComparer.Ordinal).ToList();
        if (drain)
        {
            // Most of the draining before writers are held: inside, only what came meanwhile.
            _groups.ForEach(g => g.Overlay.Commit());
        }
        foreach (var group in _groups)
        {
            Monitor.Enter(group.Overlay.ApplyGate);
            Monitor.Enter(group.Gate);
            _entered++;
            if (_started == 0)
            {
                _started = Stopwatch.GetTimestamp(); // writers are held from the first gate on
            }
        }
        if (_started == 0)
        {
            _started = Stopwatch.GetTimestamp();
        }
        foreach (var volume in _groups.SelectMany(g => g.Members))
        {
            Monitor.Enter(volume.ApplyLock);
            _volumes.Add(volume);
        }
        if (!drain)
        {
            return;
        }
        try
        {
            _groups.ForEach(g => g.Overlay.Drain());
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>How long writers have been held so far.</summary>
    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_started);

    public void Dispose()
    {
        foreach (var volume in _volumes)
        {
            Monitor.Exit(volume.ApplyLock);
        }
        _volumes.Clear();
        for (var i = _entered - 1; i >= 0; i--)
        {
            Monitor.Exit(_groups[i].Gate);
            Monitor.Exit(_groups[i].Overlay.ApplyGate);
            _groups[i].Overlay.StartApplying(); // what a sync made durable meanwhile
        }
        _entered = 0;
    }
}
