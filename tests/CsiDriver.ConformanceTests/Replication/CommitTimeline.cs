using CsiDriver.TestSupport.Consistency;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>
/// When each transaction of a workload was committed, to the resolution of a sampling period:
/// (wall-clock time, newest committed transaction) pairs taken in the background until disposed
/// (bounded in count). The wall clock is the one the main site stamps its records with (same
/// machine), so a main-site time the backup reports can be turned into "every transaction
/// committed before then".
/// </summary>
public sealed class CommitTimeline : IAsyncDisposable
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(5);
    private const int MaxSamples = 100_000;

    private readonly List<(DateTimeOffset At, long Committed)> _samples = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampling;

    public CommitTimeline(TransactionWorkload workload) => _sampling = Task.Run(() => SampleAsync(workload));

    /// <summary>The newest transaction known committed strictly before <paramref name="time"/>
    /// (a sample taken before it); 0 if none.</summary>
    public long CommittedBefore(DateTimeOffset time)
    {
        lock (_samples)
        {
            return _samples.Where(s => s.At < time).Select(s => s.Committed).DefaultIfEmpty(0).Max();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _sampling.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task SampleAsync(TransactionWorkload workload)
    {
        for (var i = 0; i < MaxSamples && !_stop.IsCancellationRequested; i++)
        {
            // Committed is read before the clock: the transaction was committed by this time.
            var committed = workload.Committed;
            lock (_samples)
            {
                _samples.Add((DateTimeOffset.UtcNow, committed));
            }
            await Task.Delay(Period, _stop.Token);
        }
    }
}
