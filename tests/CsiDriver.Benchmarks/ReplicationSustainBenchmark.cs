using System.Globalization;
using CsiDriver.TestSupport;

namespace CsiDriver.Benchmarks;

/// <summary>
/// Sustained full load: fio writes 4 KiB random blocks at queue depth 16, unthrottled, for
/// <see cref="LoadTime"/> through the main site, each site pinned to its own CPUs. A backup that
/// applies slower than the main ingests falls further behind every second; one that keeps up holds
/// the lag bounded. Goals: lag p99 &lt; 1 s over the load, and the backup has applied everything
/// within <see cref="DrainGoal"/> of the writers stopping.
/// </summary>
public sealed class ReplicationSustainBenchmark : IBenchmark
{
    private static readonly TimeSpan LoadTime = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan DrainGoal = TimeSpan.FromSeconds(5);

    public string Name => "replication-sustain";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        var cpus = SiteCpus.Split();
        var how = cpus is null ? "sites sharing the only CPU" : "pinned";
        await using var bench = await ReplicationBenchSites.StartAsync(context.Progress, cpus, direct: true);
        var volume = await bench.CreateVolumeAsync("sustain", cancellationToken);
        await bench.ReplicateAsync(volume, "8Gi");
        context.Progress.WriteLine($"   writing at the maximum rate for {LoadTime.TotalSeconds:0} s");

        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var sampler = Task.Run(() => LagSamples.CollectAsync(bench.Sites.Backup, volume.GroupId, sampling.Token), CancellationToken.None);
        var before = bench.CpuSeconds();
        var load = await FioJob.RunAsync(volume.Fio, "randwrite", "4k", 16, ReplicationBenchSites.VolumeBytes, LoadTime, [], cancellationToken);
        await sampling.CancelAsync();
        var drain = await bench.DrainAsync(volume);
        var after = bench.CpuSeconds();
        var lags = await sampler;

        var (p50, p99) = (BenchmarkStatistics.Median(lags), BenchmarkStatistics.Percentile(lags, 0.99));
        var gigabytes = load.Bytes / 1e9;
        context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   {load.Iops:0} IOPS ({load.Bytes / 1e6 / LoadTime.TotalSeconds:0} MB/s) for {LoadTime.TotalSeconds:0} s: {lags.Count} lag samples, p50 {p50:0.0} ms, " +
            $"p99 {p99:0.0} ms, max {lags.Max():0.0} ms; applied through the last write {drain.TotalSeconds:0.00} s after the writers stopped"));
        return
        [
            new BenchmarkFigure($"lag p99 under full load, {how}", p99, "ms", BenchmarkGoal.Below(1000)),
            new BenchmarkFigure("drained after the writers stop", drain.TotalSeconds, "s", BenchmarkGoal.AtMost(DrainGoal.TotalSeconds)),
            new BenchmarkFigure($"lag p50 under full load, {how}", p50, "ms"),
            new BenchmarkFigure("full-load write rate, replicated", load.Iops, "IOPS"),
            new BenchmarkFigure("main CPU per GB written and shipped", (after.Main - before.Main) / gigabytes, "CPU s/GB"),
            new BenchmarkFigure("backup CPU per GB applied", (after.Backup - before.Backup) / gigabytes, "CPU s/GB"),
        ];
    }
}
