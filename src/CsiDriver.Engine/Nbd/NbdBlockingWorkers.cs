using System.Collections.Concurrent;

namespace CsiDriver.Engine.Nbd;

/// <summary>
/// Threads for requests that may block inside the device (FLUSH, FUA, or any request while the
/// device is seen blocking): they block here in parallel, as nbdkit's worker threads do, instead
/// of starving the .NET thread pool, which grows only slowly. A thread is started whenever work
/// arrives and none is idle, up to a fixed number shared by every connection of a server.
/// </summary>
internal sealed class NbdBlockingWorkers(int maxThreads) : IDisposable
{
    private readonly BlockingCollection<Action> _queue = new();
    private readonly Lock _lock = new();
    private int _threads;

    // Idle threads minus queued work not yet taken; below zero, the work needs another thread.
    private int _available;

    public void Run(Action work)
    {
        _queue.Add(work);
        if (Interlocked.Decrement(ref _available) >= 0)
        {
            return;
        }
        lock (_lock)
        {
            if (_threads >= maxThreads)
            {
                return;
            }
            _threads++;
        }
        new Thread(Work) { IsBackground = true, Name = "nbd-blocking-worker" }.Start();
    }

    /// <summary>Lets the threads finish what is queued and exit.</summary>
    public void Dispose() => _queue.CompleteAdding();

    private void Work()
    {
        while (true)
        {
            Interlocked.Increment(ref _available);
            if (!_queue.TryTake(out var work, Timeout.Infinite))
            {
                return;
            }
            work();
        }
    }
}
