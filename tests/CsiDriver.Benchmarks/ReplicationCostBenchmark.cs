using System.Globalization;

namespace CsiDriver.Benchmarks;

/// <summary>
/// What replication costs the writers: fio 4 KiB random writes at queue depth 16 through the main
/// site's NBD socket, on a volume whose group is replicated to the backup and on one whose group
/// is not, both in the same main-site process, alternated for a few rounds; the ratio of the
/// medians is the figure (asynchronous replication must not slow the writers: goal ≥ 0.95).
/// </summary>
public sealed class ReplicationCostBenchmark : IBenchmark
{
    private const int Rounds = 3;
    private static readonly TimeSpan RunTime = TimeSpan.FromSeconds(4);

    public string Name => "replication-cost";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        await using var bench = await ReplicationBenchSites.StartAsync(context.Progress);
        var off = await bench.CreateVolumeAsync("alone", cancellationToken);
        var on = await bench.CreateVolumeAsync("replicated", cancellationToken);
        await bench.ReplicateAsync(on, "1Gi");
        context.Progress.WriteLine("   replication on for one of two volumes; initial copy done");

        var withOut = new List<double>();
        var with = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            withOut.Add((await RandomWritesAsync(off, cancellationToken)).Iops);
            with.Add((await RandomWritesAsync(on, cancellationToken)).Iops);
            context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   round {round + 1}/{Rounds}: replication off {withOut[^1],8:0} IOPS, on {with[^1],8:0} IOPS"));
        }
        var (offIops, onIops) = (BenchmarkStatistics.Median(withOut), BenchmarkStatistics.Median(with));
        context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   median: off {offIops:0} IOPS, on {onIops:0} IOPS, ratio {onIops / offIops:0.00}"));
        return
        [
            new BenchmarkFigure("4 KiB random write QD16: on / off", onIops / offIops, "ratio", "≥ 0.95"),
            new BenchmarkFigure("4 KiB random write QD16, replication on", onIops, "IOPS"),
            new BenchmarkFigure("4 KiB random write QD16, replication off", offIops, "IOPS"),
        ];
    }

    private static Task<FioResult> RandomWritesAsync(BenchVolume volume, CancellationToken cancellationToken) =>
        FioJob.RunAsync(volume.Uri, "randwrite", "4k", 16, ReplicationBenchSites.VolumeBytes, RunTime, ["--ramp_time=1"], cancellationToken);
}
