using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.Benchmarks;

/// <summary>Replication lag as the backup reports it, sampled every <see cref="Period"/> once
/// the load has settled, until cancelled.</summary>
public static class LagSamples
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(10);
    private const int MaxSamples = 100_000;

    /// <summary>Lag samples in ms.</summary>
    public static async Task<List<double>> CollectAsync(ReplicationSite backup, string groupId, CancellationToken stop)
    {
        var lags = new List<double>();
        try
        {
            await Task.Delay(Settle, stop);
            while (!stop.IsCancellationRequested && lags.Count < MaxSamples)
            {
                var info = await backup.Addons.GroupReplicationInfoAsync(groupId);
                if (info.Lag() is { } lag)
                {
                    lags.Add(lag.TotalMilliseconds);
                }
                await Task.Delay(Period, stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        return lags;
    }
}
