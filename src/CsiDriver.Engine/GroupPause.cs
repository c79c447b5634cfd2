using System.Diagnostics;

namespace CsiDriver.Engine;

/// <summary>
/// Stops writers of some groups for a moment: takes each group's gate in ordinal order of
/// journal name (one fixed order for everyone, so two pauses cannot deadlock), then each
/// member volume's apply lock, which waits out writes still being applied. While it is held,
/// every group's sequence is a clean cut. Synchronous by design: the locks have thread
/// affinity and the pause must not span an await.
/// </summary>
internal sealed class GroupPause : IDisposable
{
    private readonly List<ConsistencyGroup> _groups;
    private readonly List<Volume> _volumes = [];
    private readonly long _started;

    public GroupPause(IEnumerable<ConsistencyGroup> groups)
    {
        _groups = groups.Distinct().OrderBy(g => g.JournalName, StringComparer.Ordinal).ToList();
        foreach (var group in _groups)
        {
            Monitor.Enter(group.Gate);
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
    }

    /// <summary>How long writers have been held so far.</summary>
    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_started);

    public void Dispose()
    {
        foreach (var volume in _volumes)
        {
            Monitor.Exit(volume.ApplyLock);
        }
        for (var i = _groups.Count - 1; i >= 0; i--)
        {
            Monitor.Exit(_groups[i].Gate);
        }
    }
}
