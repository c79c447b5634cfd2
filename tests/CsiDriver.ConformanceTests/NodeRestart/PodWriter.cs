using System.Diagnostics;

namespace CsiDriver.ConformanceTests.NodeRestart;

/// <summary>
/// A pod's writer on a thread of its own (its I/O blocks while csidriver restarts): writes one
/// item after another until stopped or <see cref="Limit"/>, counts every failure, and measures
/// the longest stall — the longest time between two completed writes.
/// </summary>
public abstract class PodWriter
{
    /// <summary>How many stall limits a wait for progress may take in all.</summary>
    private const int CrawlFactor = 5;

    private readonly List<string> _errors = [];
    private readonly Thread _thread;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stop;
    private long _completed;
    private long _longestStallTicks;
    private long _lastCompletedTimestamp = Stopwatch.GetTimestamp();

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

    /// <summary>Time since the last write completed (or the writer started).</summary>
    public TimeSpan CurrentStall => Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastCompletedTimestamp));

    /// <summary>Waits until <paramref name="more"/> further writes have completed. Fails when the
    /// writer is stuck, no write completing for <paramref name="stallLimit"/>, or, as a bound on
    /// the whole wait, when they take more than <see cref="CrawlFactor"/> times that. Progress
    /// is judged by stalls, not by a rate: on a machine at load 20 the writer (one O_DIRECT write
    /// and one read-back at a time, beside fio on the same device) did about 12 writes a second,
    /// so 500 writes took some 40 s, and the old rule (all of them within 90 s) failed whenever
    /// the machine was twice as busy, with a writer that never stopped.</summary>
    public async Task WaitForProgressAsync(int more, TimeSpan stallLimit)
    {
        var start = Completed;
        var target = start + more;
        var deadline = DateTime.UtcNow + stallLimit * CrawlFactor;
        while (Completed < target && !_finished.Task.IsCompleted)
        {
            var stall = CurrentStall;
            Assert.True(stall < stallLimit && DateTime.UtcNow < deadline,
                $"{_thread.Name} completed {Completed - start} of {more} writes ({Completed} in all); no write completed for " +
                $"{stall.TotalSeconds:0.0} s (limit {stallLimit.TotalSeconds} s, longest before {LongestStall.TotalSeconds:0.0} s); " +
                $"errors: {string.Join("; ", Errors.Take(3))}");
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
            Interlocked.Exchange(ref _lastCompletedTimestamp, Stopwatch.GetTimestamp());
            Interlocked.Increment(ref _completed);
        }
        _finished.TrySetResult();
    }
}
