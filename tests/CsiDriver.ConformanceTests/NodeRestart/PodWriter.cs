using System.Diagnostics;

namespace CsiDriver.ConformanceTests.NodeRestart;

/// <summary>
/// A pod's writer on a thread of its own (its I/O blocks while csidriver restarts): writes one
/// item after another until stopped or <see cref="Limit"/>, counts every failure, and measures
/// the longest stall — the longest time between two completed writes.
/// </summary>
public abstract class PodWriter
{
    private readonly List<string> _errors = [];
    private readonly Thread _thread;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stop;
    private long _completed;
    private long _longestStallTicks;

    protected PodWriter(string name, long limit)
    {
        Limit = limit;
        _thread = new Thread(Run) { IsBackground = true, Name = name };
    }

    public long Limit { get; }

    public long Completed => Interlocked.Read(ref _completed);

    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (_errors)
            {
                return _errors.ToList();
            }
        }
    }

    public TimeSpan LongestStall => TimeSpan.FromTicks(Interlocked.Read(ref _longestStallTicks));

    /// <summary>Waits (bounded) until <paramref name="more"/> further writes have completed.</summary>
    public async Task WaitForProgressAsync(int more, TimeSpan timeout)
    {
        var target = Completed + more;
        var deadline = DateTime.UtcNow + timeout;
        while (Completed < target && !_finished.Task.IsCompleted)
        {
            Assert.True(DateTime.UtcNow < deadline,
                $"{_thread.Name} made no progress for {timeout.TotalSeconds} s ({Completed} writes; errors: {string.Join("; ", Errors.Take(3))})");
            await Task.Delay(20);
        }
        Assert.True(Completed >= target, $"{_thread.Name} stopped after {Completed} writes (limit {Limit})");
    }

    public async Task StopAsync(TimeSpan timeout)
    {
        _stop = true;
        await _finished.Task.WaitAsync(timeout);
    }

    /// <summary>Called by the subclass once it is ready to write.</summary>
    protected void Start() => _thread.Start();

    /// <summary>Writes item <paramref name="n"/> (1, 2, …) and returns once it has completed; an
    /// IOException is a failed write.</summary>
    protected abstract void Write(long n);

    /// <summary>Counts a failure found otherwise than by a failed write (a read-back mismatch).</summary>
    protected void Fail(string error)
    {
        lock (_errors)
        {
            _errors.Add(error);
        }
    }

    private void Run()
    {
        var sinceLast = Stopwatch.StartNew();
        for (long n = 1; n <= Limit && !_stop; n++)
        {
            try
            {
                Write(n);
            }
            catch (IOException e)
            {
                Fail($"write {n}: {e.Message}");
                continue;
            }
            var stall = sinceLast.Elapsed.Ticks;
            if (stall > Interlocked.Read(ref _longestStallTicks))
            {
                Interlocked.Exchange(ref _longestStallTicks, stall);
            }
            sinceLast.Restart();
            Interlocked.Increment(ref _completed);
        }
        _finished.TrySetResult();
    }
}
