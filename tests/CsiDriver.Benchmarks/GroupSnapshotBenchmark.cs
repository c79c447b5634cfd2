using System.Diagnostics;
using CsiDriver.Engine;
using CsiDriver.TestSupport;
using CsiDriver.TestSupport.Consistency;

namespace CsiDriver.Benchmarks;

/// <summary>
/// Group snapshots of 8 volumes under a steady write load (one paced 4 KiB writer per volume):
/// creation latency p50/p99 and the longest writer pause the cut caused (the engine's
/// <see cref="GroupCut.WriterPause"/>, and the worst write latency the writers saw), once with
/// the 8 volumes in one consistency group (one journal, one cut record) and once spread over 8
/// groups (8 journals held under one ordered barrier). The baseline is the same load with no
/// snapshots, measured in the same run: its worst write latency is what the writers suffer anyway.
/// </summary>
public sealed class GroupSnapshotBenchmark : IBenchmark
{
    private const int VolumeCount = 8;
    private const int Snapshots = 100;
    private const long VolumeBytes = 64L << 20;
    private static readonly TimeSpan WriterPace = TimeSpan.FromMilliseconds(2);
    private static readonly TimeSpan SnapshotSpacing = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan BaselineLength = TimeSpan.FromSeconds(3);

    public string Name => "groupsnapshot";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        var one = await MeasureAsync(context, "one group", _ => "orders", cancellationToken);
        var spread = await MeasureAsync(context, "8 groups", i => $"service-{i}", cancellationToken);
        return
        [
            new BenchmarkFigure("create p50, 8 groups / 1 group (ratio)", spread.CreateP50 / one.CreateP50, "x"),
            new BenchmarkFigure("worst write under cuts / baseline, 1 group", one.WorstWrite / one.BaselineWorstWrite, "x", BenchmarkGoal.AtMost(2)),
            new BenchmarkFigure("worst write under cuts / baseline, 8 groups", spread.WorstWrite / spread.BaselineWorstWrite, "x", BenchmarkGoal.AtMost(2)),
            .. one.Figures("1 group"),
            .. spread.Figures("8 groups"),
        ];
    }

    private static async Task<Result> MeasureAsync(BenchmarkContext context, string label, Func<int, string> groupOf, CancellationToken cancellationToken)
    {
        using var engine = StorageEngine.Open(Path.Combine(context.WorkDirectory, label.Replace(' ', '-')), new EngineOptions { BackgroundCheckpoints = false });
        var volumes = Enumerable.Range(0, VolumeCount).Select(i => engine.CreateVolume($"v{i}", VolumeBytes, groupOf(i))).ToArray();

        // Untimed cuts first, so neither layout pays the first-call costs of the snapshot path.
        for (var round = 0; round < 5; round++)
        {
            engine.CreateGroupSnapshot(volumes.Select(v => (v.Id, $"{v.Id}-warm{round}")).ToArray());
        }
        var baseline = await SteadyLoad.RunAsync(volumes, BaselineLength, _ => Task.CompletedTask, cancellationToken);
        context.Progress.WriteLine($"   {label}: baseline {baseline.Writes} writes, worst write {baseline.WorstMs:0.00} ms, p99 {baseline.P99Ms:0.00} ms");

        var created = new List<double>();
        var paused = new List<double>();
        var underCuts = await SteadyLoad.RunAsync(volumes, TimeSpan.FromMinutes(2), async stop =>
        {
            for (var round = 0; round < Snapshots && !cancellationToken.IsCancellationRequested; round++)
            {
                await Task.Delay(SnapshotSpacing, cancellationToken);
                var started = Stopwatch.GetTimestamp();
                engine.CreateGroupSnapshot(volumes.Select(v => (v.Id, $"{v.Id}-cut{round}")).ToArray(), out var cut);
                created.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                paused.Add(cut.WriterPause.TotalMilliseconds);
                if ((round + 1) % 25 == 0)
                {
                    context.Progress.WriteLine($"   {label}: {round + 1}/{Snapshots} group snapshots, last {created[^1]:0.00} ms, writers held {paused[^1]:0.000} ms");
                }
            }
            await stop.CancelAsync();
        }, cancellationToken);
        context.Progress.WriteLine($"   {label}: under cuts {underCuts.Writes} writes, worst write {underCuts.WorstMs:0.00} ms, p99 {underCuts.P99Ms:0.00} ms");
        return new Result(Percentile(created, 0.5), Percentile(created, 0.99), paused.Max(), Percentile(paused, 0.99),
            underCuts.WorstMs, baseline.WorstMs);
    }

    private static double Percentile(List<double> values, double fraction)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(fraction * sorted.Length) - 1)];
    }

    private sealed record Result(double CreateP50, double CreateP99, double LongestPause, double PauseP99, double WorstWrite, double BaselineWorstWrite)
    {
        public IEnumerable<BenchmarkFigure> Figures(string label) =>
        [
            new($"create p50, {label}", CreateP50, "ms"),
            new($"create p99, {label}", CreateP99, "ms"),
            new($"longest writer pause, {label}", LongestPause, "ms"),
            new($"writer pause p99, {label}", PauseP99, "ms"),
            new($"worst write under cuts, {label}", WorstWrite, "ms"),
        ];
    }

    /// <summary>One paced writer per volume (4 KiB at a random block, one per <see cref="WriterPace"/> at most)
    /// until <paramref name="length"/> passes or the driver of the phase stops it; returns every
    /// write's latency.</summary>
    private static class SteadyLoad
    {
        public static async Task<Latencies> RunAsync(Volume[] volumes, TimeSpan length, Func<CancellationTokenSource, Task> during, CancellationToken cancellationToken)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            stop.CancelAfter(length);
            var writers = volumes.Select((volume, i) => Task.Run(() => WriteAsync(volume, i, stop.Token))).ToArray();
            await during(stop);
            var all = (await Task.WhenAll(writers)).SelectMany(l => l).Order().ToArray();
            return new Latencies(all.Length, all[^1], all[(int)(all.Length * 0.99)]);
        }

        private static async Task<List<double>> WriteAsync(Volume volume, int seed, CancellationToken stop)
        {
            var latencies = new List<double>();
            var block = new byte[4096];
            var random = new Random(seed);
            var pace = new SteadyPace(WriterPace);
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await Task.Delay(pace.UntilDue, stop);
                    pace.Step();
                    random.NextBytes(block.AsSpan(0, 16));
                    var started = Stopwatch.GetTimestamp();
                    await volume.WriteAsync(block.Length * (long)random.Next((int)(volume.Size / block.Length)), block, fua: false, CancellationToken.None);
                    latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
            return latencies;
        }
    }

    private sealed record Latencies(int Writes, double WorstMs, double P99Ms);
}
