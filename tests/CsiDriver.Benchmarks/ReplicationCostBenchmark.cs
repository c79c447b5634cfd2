using System.Globalization;
using CsiDriver.TestSupport;

namespace CsiDriver.Benchmarks;

/// <summary>
/// What replication costs the writers: fio 4 KiB random writes at queue depth 16 through the main
/// site's NBD socket, on a volume whose group is replicated to the backup and on one whose group
/// is not, both in the same main-site process, alternated for a few rounds; the ratio of the
/// medians is the figure. Asynchronous replication must not slow the writers: goal ≥ 0.97 with
/// each site pinned to its own CPUs, as two sites are two machines, the main shipping straight to the
/// backup (not through the test's fault proxy, whose copying would run on the main's CPUs). The same run with both sites
/// sharing every CPU is shown for information: there the backup's apply takes CPU from the main's
/// writers, a cost of the test bed. Every replicated round is followed by a wait until the backup
/// has applied all of it, so no round runs while the backlog of an earlier one still drains, and
/// the rounds alternate which volume goes first. The CPU time of both processes gives CPU seconds
/// per GB: at the main, written with and without replication (the difference is the shipping),
/// and at the backup, per GB applied.
/// </summary>
public sealed class ReplicationCostBenchmark : IBenchmark
{
    private const int Rounds = 3;
    private static readonly TimeSpan RunTime = TimeSpan.FromSeconds(4);

    public string Name => "replication-cost";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        var figures = new List<BenchmarkFigure>();
        if (SiteCpus.Split() is { } cpus)
        {
            var pinned = await MeasureAsync(context, cpus, cancellationToken);
            figures.Add(new BenchmarkFigure("4 KiB random write QD16: on / off, sites pinned", pinned.Ratio, "ratio", BenchmarkGoal.AtLeast(0.97)));
            figures.AddRange(pinned.Details("pinned"));
        }
        else
        {
            context.Progress.WriteLine("   one CPU only: no pinned figure (the sites cannot have CPUs of their own)");
        }
        var shared = await MeasureAsync(context, cpus: null, cancellationToken);
        figures.Add(new BenchmarkFigure("on / off, sites sharing CPUs (information)", shared.Ratio, "ratio"));
        figures.AddRange(shared.Details("shared"));
        return figures;
    }

    private static async Task<Measurement> MeasureAsync(BenchmarkContext context, SiteCpus? cpus, CancellationToken cancellationToken)
    {
        await using var bench = await ReplicationBenchSites.StartAsync(context.Progress, cpus, direct: true);
        var off = await bench.CreateVolumeAsync("alone", cancellationToken);
        var on = await bench.CreateVolumeAsync("replicated", cancellationToken);
        await bench.ReplicateAsync(on, "1Gi");
        context.Progress.WriteLine("   replication on for one of two volumes; initial copy done");

        var (withOut, with) = (new List<double>(), new List<double>());
        var (offCost, onCost) = (new CpuCost(), new CpuCost());
        for (var round = 0; round < Rounds; round++)
        {
            // Odd rounds start with the replicated volume, even ones without.
            foreach (var replicated in round % 2 == 0 ? new[] { false, true } : [true, false])
            {
                var before = bench.CpuSeconds();
                var run = await FioJob.RunAsync(replicated ? on.Fio : off.Fio, "randwrite", "4k", 16, ReplicationBenchSites.VolumeBytes, RunTime, ["--ramp_time=1"], cancellationToken);
                var written = bench.CpuSeconds();
                var drain = replicated ? await bench.DrainAsync(on) : TimeSpan.Zero;
                var after = bench.CpuSeconds();
                (replicated ? with : withOut).Add(run.Iops);
                (replicated ? onCost : offCost).Add(written.Main - before.Main, after.Main - written.Main, after.Backup - before.Backup, run.Bytes);
                if (replicated)
                {
                    context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   backlog of the replicated run applied {drain.TotalSeconds:0.00} s after fio ended"));
                }
            }
            context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   round {round + 1}/{Rounds}: replication off {withOut[^1],8:0} IOPS, on {with[^1],8:0} IOPS"));
        }
        var measurement = new Measurement(BenchmarkStatistics.Median(withOut), BenchmarkStatistics.Median(with), offCost, onCost);
        context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   median: off {measurement.OffIops:0} IOPS, on {measurement.OnIops:0} IOPS, ratio {measurement.Ratio:0.00}; CPU s/GB: main off {offCost.MainPerGb:0.0}, " +
            $"main on {onCost.MainPerGb:0.0} ({onCost.MainWhileWritingPerGb:0.0} while fio wrote), backup {onCost.BackupPerGb:0.0}"));
        return measurement;
    }

    /// <summary>CPU seconds the two processes used over the runs of one kind, and the bytes written.
    /// fio's ramp-up writes count in the CPU but not in its byte count, so the per-GB figures are
    /// slightly high, alike for both kinds. The main's CPU is kept apart for the time fio wrote and
    /// for the drain after it (replicated runs only: shipping the backlog the backup had not yet
    /// applied), so the on − off difference can be told apart from work done after the writers.</summary>
    private sealed class CpuCost
    {
        private double _mainWriting;
        private double _mainDraining;
        private double _backup;
        private long _bytes;

        public void Add(double mainWriting, double mainDraining, double backup, long bytes) =>
            (_mainWriting, _mainDraining, _backup, _bytes) = (_mainWriting + mainWriting, _mainDraining + mainDraining, _backup + backup, _bytes + bytes);

        public double MainPerGb => (_mainWriting + _mainDraining) / (_bytes / 1e9);

        public double MainWhileWritingPerGb => _mainWriting / (_bytes / 1e9);

        public double BackupPerGb => _backup / (_bytes / 1e9);
    }

    private sealed record Measurement(double OffIops, double OnIops, CpuCost Off, CpuCost On)
    {
        public double Ratio => OnIops / OffIops;

        public IEnumerable<BenchmarkFigure> Details(string how) =>
        [
            new($"replication on, {how}", OnIops, "IOPS"),
            new($"replication off, {how}", OffIops, "IOPS"),
            new($"main CPU per GB written, on, {how}", On.MainPerGb, "CPU s/GB"),
            new($"main CPU per GB written, off, {how}", Off.MainPerGb, "CPU s/GB"),
            new($"main CPU per GB shipped (on − off), {how}", On.MainPerGb - Off.MainPerGb, "CPU s/GB"),
            new($"  of it while fio wrote (not the drain), {how}", On.MainWhileWritingPerGb - Off.MainWhileWritingPerGb, "CPU s/GB"),
            new($"backup CPU per GB applied, {how}", On.BackupPerGb, "CPU s/GB"),
        ];
    }
}
