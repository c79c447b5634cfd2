using System.Globalization;
using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.Benchmarks;

/// <summary>
/// Replication lag (RPO as measured: now − the main-site time of the newest record the backup
/// has applied, from the backup's GetVolumeReplicationInfo) under a steady load of 4 KiB random
/// writes at half the maximum rate measured first in the same run, on loopback: p50 and p99
/// (goal p99 &lt; 50 ms).
/// </summary>
public sealed class ReplicationLagBenchmark : IBenchmark
{
    private static readonly TimeSpan MaxRateRun = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan SteadyRun = TimeSpan.FromSeconds(12);
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan SamplePeriod = TimeSpan.FromMilliseconds(10);

    public string Name => "replication-lag";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        await using var bench = await ReplicationBenchSites.StartAsync(context.Progress);
        var volume = await bench.CreateVolumeAsync("lag", cancellationToken);
        await bench.ReplicateAsync(volume, "1Gi");

        var max = await FioJob.RunAsync(volume.Uri, "randwrite", "4k", 16, ReplicationBenchSites.VolumeBytes, MaxRateRun, ["--ramp_time=1"], cancellationToken);
        var rate = (int)(max.Iops / 2);
        context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   maximum {max.Iops:0} IOPS; steady load at {rate} IOPS for {SteadyRun.TotalSeconds:0} s"));

        // Sampling ends before the load does: once writes stop, "now − newest record" only grows.
        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        sampling.CancelAfter(SteadyRun - TimeSpan.FromSeconds(1));
        var sampler = Task.Run(() => SampleLagAsync(bench.Sites.Backup, volume.GroupId, sampling.Token), CancellationToken.None);
        var steady = await FioJob.RunAsync(volume.Uri, "randwrite", "4k", 16, ReplicationBenchSites.VolumeBytes, SteadyRun, [$"--rate_iops={rate}"], cancellationToken);
        var lags = await sampler;

        var (p50, p99) = (BenchmarkStatistics.Median(lags), BenchmarkStatistics.Percentile(lags, 0.99));
        context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   steady {steady.Iops:0} IOPS: {lags.Count} lag samples, p50 {p50:0.0} ms, p99 {p99:0.0} ms, max {lags.Max():0.0} ms"));
        return
        [
            new BenchmarkFigure("lag p99 at 50 % of max write rate", p99, "ms", "< 50"),
            new BenchmarkFigure("lag p50 at 50 % of max write rate", p50, "ms"),
            new BenchmarkFigure("steady write rate", steady.Iops, "IOPS"),
            new BenchmarkFigure("maximum write rate, replicated", max.Iops, "IOPS"),
        ];
    }

    /// <summary>Lag samples (ms) every <see cref="SamplePeriod"/> once the load has settled,
    /// until cancelled.</summary>
    private static async Task<List<double>> SampleLagAsync(ReplicationSite backup, string groupId, CancellationToken stop)
    {
        var lags = new List<double>();
        try
        {
            await Task.Delay(Settle, stop);
            while (!stop.IsCancellationRequested && lags.Count < 100_000)
            {
                var info = await backup.Addons.GroupReplicationInfoAsync(groupId);
                if (info.Lag() is { } lag)
                {
                    lags.Add(lag.TotalMilliseconds);
                }
                await Task.Delay(SamplePeriod, stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        return lags;
    }
}
