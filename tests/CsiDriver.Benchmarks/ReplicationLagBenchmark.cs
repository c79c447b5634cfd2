using System.Globalization;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.TestSupport;

namespace CsiDriver.Benchmarks;

/// <summary>
/// Replication lag (RPO as measured: now − the main-site time of the newest record the backup
/// has applied, from the backup's GetVolumeReplicationInfo) under a steady load of 4 KiB random
/// writes at half the maximum rate measured first in the same setting, each site pinned to its
/// own CPUs: p50 and p99. Goal p99 &lt; 20 ms with no delay between the sites; over a real
/// network with a round trip of 10 ms and of 50 ms at 1 Gbit/s (<see cref="SiteNetwork"/>), p99
/// &lt; the round trip + 20 ms.
/// </summary>
public sealed class ReplicationLagBenchmark : IBenchmark
{
    private static readonly TimeSpan MaxRateRun = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan SteadyRun = TimeSpan.FromSeconds(12);
    private static readonly TimeSpan[] RoundTrips = [TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50)];
    private const long LinkBitsPerSecond = 1_000_000_000;
    private const double MarginMs = 20;

    public string Name => "replication-lag";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        var cpus = SiteCpus.Split();
        var pinned = cpus is null ? "sites sharing the only CPU" : "pinned";
        var figures = new List<BenchmarkFigure>();
        await using (var bench = await ReplicationBenchSites.StartAsync(context.Progress, cpus, direct: true))
        {
            figures.AddRange(await MeasureAsync(context, bench, $"{pinned}, no delay", MarginMs, cancellationToken));
        }
        if (!SiteNetwork.Available)
        {
            context.Progress.WriteLine("   no network namespaces here (needs root, ip, tc, nsenter): no figures with delay");
            return figures;
        }
        foreach (var roundTrip in RoundTrips)
        {
            using var network = await SiteNetwork.CreateAsync(roundTrip, LinkBitsPerSecond);
            await using var bench = await ReplicationBenchSites.StartAsync(context.Progress, cpus, network);
            figures.AddRange(await MeasureAsync(context, bench, $"{pinned}, {roundTrip.TotalMilliseconds:0} ms RTT", roundTrip.TotalMilliseconds + MarginMs, cancellationToken));
        }
        return figures;
    }

    private static async Task<IReadOnlyList<BenchmarkFigure>> MeasureAsync(BenchmarkContext context, ReplicationBenchSites bench, string setting, double goalMs, CancellationToken cancellationToken)
    {
        var volume = await bench.CreateVolumeAsync("lag", cancellationToken);
        await bench.ReplicateAsync(volume, "1Gi");

        var max = await FioJob.RunAsync(volume.Fio, "randwrite", "4k", 16, ReplicationBenchSites.VolumeBytes, MaxRateRun, ["--ramp_time=1"], cancellationToken);
        await bench.DrainAsync(volume);
        var rate = (int)(max.Iops / 2);
        context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   {setting}: maximum {max.Iops:0} IOPS; steady load at {rate} IOPS for {SteadyRun.TotalSeconds:0} s"));

        // Sampling ends before the load does: once writes stop, "now − newest record" only grows.
        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        sampling.CancelAfter(SteadyRun - TimeSpan.FromSeconds(1));
        var sampler = Task.Run(() => LagSamples.CollectAsync(bench.Sites.Backup, volume.GroupId, sampling.Token), CancellationToken.None);
        var steady = await FioJob.RunAsync(volume.Fio, "randwrite", "4k", 16, ReplicationBenchSites.VolumeBytes, SteadyRun, [$"--rate_iops={rate}"], cancellationToken);
        var lags = await sampler;

        var (p50, p99) = (BenchmarkStatistics.Median(lags), BenchmarkStatistics.Percentile(lags, 0.99));
        context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   steady {steady.Iops:0} IOPS: {lags.Count} lag samples, p50 {p50:0.0} ms, p99 {p99:0.0} ms, max {lags.Max():0.0} ms"));
        return
        [
            new BenchmarkFigure($"lag p99 at 50 % of max rate, {setting}", p99, "ms", BenchmarkGoal.Below(goalMs)),
            new BenchmarkFigure($"lag p50 at 50 % of max rate, {setting}", p50, "ms"),
            new BenchmarkFigure($"steady write rate, {setting}", steady.Iops, "IOPS"),
        ];
    }
}
