using System.Globalization;
using CsiDriver.TestSupport;

namespace CsiDriver.Benchmarks;

/// <summary>
/// What replication costs the writers: fio 4 KiB random writes at queue depth 16 through the main
/// site's NBD socket, on a volume whose group is replicated to the backup and on one whose group
/// is not, both in the same main-site process. Asynchronous replication must not slow the
/// writers: goal ≥ 0.97 with each site pinned to its own CPUs, as two sites are two machines, the
/// main shipping straight to the backup (not through the test's fault proxy, whose copying would
/// run on the main's CPUs). The same run with both sites sharing every CPU is shown for
/// information: there the backup's apply takes CPU from the main's writers, a cost of the test bed.
/// <para>The runs alternate off, on, off, on, … so a drift of the machine's load falls on both
/// kinds alike; each on run is compared with the off run just before it, and the figure is the
/// median of those ratios, shown with their spread. On a shared machine the same code has given
/// ratios from 0.5 to 1.8 in short rounds, so the off runs' own spread (what the same run
/// varies by with nothing changed) is the run's noise: when it is larger than the distance
/// between the figure and its goal, the verdict is "inconclusive", not a pass or a miss.</para>
/// <para>Every replicated run is followed by a wait until the backup has applied all of it, so
/// no run starts while the backlog of an earlier one still drains. The CPU time of both
/// processes gives CPU seconds per GB: at the main, written with and without replication (the
/// difference is the shipping), and at the backup, per GB applied.</para>
/// </summary>
public sealed class ReplicationCostBenchmark : IBenchmark
{
    private const int Pairs = 4;
    private static readonly TimeSpan RunTime = TimeSpan.FromSeconds(8);
    private static readonly BenchmarkGoal Goal = BenchmarkGoal.AtLeast(0.97);

    public string Name => "replication-cost";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        var figures = new List<BenchmarkFigure>();
        if (SiteCpus.Split() is { } cpus)
        {
            var pinned = await MeasureAsync(context, cpus, cancellationToken);
            figures.Add(new BenchmarkFigure("4 KiB random write QD16: on / off, sites pinned", pinned.Ratio, "ratio", Goal, pinned.Inconclusive(Goal)));
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
        for (var pair = 0; pair < Pairs; pair++)
        {
            foreach (var replicated in new[] { false, true })
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
                $"   pair {pair + 1}/{Pairs}: replication off {withOut[^1],8:0} IOPS, then on {with[^1],8:0} IOPS: {with[^1] / withOut[^1]:0.00}"));
        }
        var measurement = new Measurement(withOut, with, offCost, onCost);
        context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   median of the pairs' on / off: {measurement.Ratio:0.00} (pairs {measurement.RatioLow:0.00}–{measurement.RatioHigh:0.00}); off runs {withOut.Min():0}–{withOut.Max():0} IOPS, " +
            $"a spread of {measurement.OffSpread:0.00} of their median; CPU s/GB: main off {offCost.MainPerGb:0.0}, " +
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

    /// <param name="Off">IOPS of the off runs, in order.</param>
    /// <param name="On">IOPS of the on runs, in order; the i-th ran right after the i-th off run.</param>
    private sealed record Measurement(IReadOnlyList<double> Off, IReadOnlyList<double> On, CpuCost OffCost, CpuCost OnCost)
    {
        private IReadOnlyList<double> Ratios { get; } = On.Zip(Off, (on, off) => on / off).ToList();

        public double Ratio => BenchmarkStatistics.Median(Ratios);

        public double RatioLow => Ratios.Min();

        public double RatioHigh => Ratios.Max();

        /// <summary>How far apart the off runs are, as a fraction of their median: what the
        /// same run varies by here with nothing changed.</summary>
        public double OffSpread => (Off.Max() - Off.Min()) / BenchmarkStatistics.Median(Off);

        /// <summary>Why this run cannot judge its ratio against <paramref name="goal"/>, or null when it can.</summary>
        public string? Inconclusive(BenchmarkGoal goal)
        {
            var distance = Math.Abs(Ratio - goal.Threshold);
            return OffSpread > distance
                ? string.Create(CultureInfo.InvariantCulture,
                    $"the off runs alone spread {OffSpread:0.00} of their median ({Off.Min():0}–{Off.Max():0} IOPS), more than the ratio's distance {distance:0.00} from the goal")
                : null;
        }

        public IEnumerable<BenchmarkFigure> Details(string how) =>
        [
            new($"on / off of the pairs, lowest, {how}", RatioLow, "ratio"),
            new($"on / off of the pairs, highest, {how}", RatioHigh, "ratio"),
            new($"off runs' spread (of their median), {how}", OffSpread, "fraction"),
            new($"replication on (median), {how}", BenchmarkStatistics.Median(On), "IOPS"),
            new($"replication off (median), {how}", BenchmarkStatistics.Median(Off), "IOPS"),
            new($"main CPU per GB written, on, {how}", OnCost.MainPerGb, "CPU s/GB"),
            new($"main CPU per GB written, off, {how}", OffCost.MainPerGb, "CPU s/GB"),
            new($"main CPU per GB shipped (on − off), {how}", OnCost.MainPerGb - OffCost.MainPerGb, "CPU s/GB"),
            new($"  of it while fio wrote (not the drain), {how}", OnCost.MainWhileWritingPerGb - OffCost.MainWhileWritingPerGb, "CPU s/GB"),
            new($"backup CPU per GB applied, {how}", OnCost.BackupPerGb, "CPU s/GB"),
        ];
    }
}
