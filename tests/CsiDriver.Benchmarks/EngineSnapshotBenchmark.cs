using System.Diagnostics;
using CsiDriver.Engine;

namespace CsiDriver.Benchmarks;

/// <summary>
/// Snapshot creation time against volume size: sparse volumes of 1, 10 and 100 GiB, each with
/// the same 64 MiB written in scattered 64 KiB pieces, snapshotted repeatedly. Creation must be
/// flat in the size (the ratio 100 GiB / 1 GiB at most 2: a hundred times the size, not even
/// twice the time) and fast in absolute terms. The baseline is the reference host-path driver's
/// approach, a full copy of the volume (here: copying a sparse 1 GiB file holding the same data).
/// </summary>
public sealed class EngineSnapshotBenchmark : IBenchmark
{
    private const int Rounds = 20;
    private static readonly long[] SizesGiB = [1, 10, 100];

    public string Name => "snapshot";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        using var engine = StorageEngine.Open(Path.Combine(context.WorkDirectory, "engine"), new EngineOptions { BackgroundCheckpoints = false });
        var medians = new Dictionary<long, double>();
        var piece = new byte[64 << 10];
        new Random(1).NextBytes(piece);
        foreach (var gib in SizesGiB)
        {
            var volume = engine.CreateVolume($"v{gib}", gib << 30);
            var random = new Random(2);
            for (var i = 0; i < 1024; i++)
            {
                await volume.WriteAsync(piece.Length * (long)random.Next((int)(volume.Size / piece.Length)), piece, fua: false, cancellationToken);
            }
            await volume.FlushAsync(cancellationToken);
            engine.Checkpoint();
            var times = new List<double>();
            for (var round = 0; round < Rounds; round++)
            {
                // A little new data between snapshots, as a running workload would leave.
                await volume.WriteAsync(piece.Length * (long)random.Next((int)(volume.Size / piece.Length)), piece, fua: false, cancellationToken);
                var started = Stopwatch.GetTimestamp();
                engine.CreateSnapshot(volume.Id, $"v{gib}-s{round}");
                times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            times.Sort();
            medians[gib] = times[times.Count / 2];
            context.Progress.WriteLine($"   {gib,4} GiB: median {medians[gib]:0.00} ms, max {times[^1]:0.00} ms over {Rounds} snapshots");
        }
        var copyMs = CopyBaseline(context.WorkDirectory, piece);
        context.Progress.WriteLine($"   full copy of a sparse 1 GiB file with the same data: {copyMs:0} ms");
        return
        [
            new BenchmarkFigure("full copy 1 GiB / snapshot 1 GiB", copyMs / medians[1], "x", BenchmarkGoal.AtLeast(10)),
            new BenchmarkFigure("create time 100 GiB / 1 GiB (ratio)", medians[100] / medians[1], "x", BenchmarkGoal.AtMost(2)),
            new BenchmarkFigure("create time 1 GiB (median)", medians[1], "ms", BenchmarkGoal.Below(10)),
            new BenchmarkFigure("create time 10 GiB (median)", medians[10], "ms", BenchmarkGoal.Below(10)),
            new BenchmarkFigure("create time 100 GiB (median)", medians[100], "ms", BenchmarkGoal.Below(10)),
        ];
    }

    private static double CopyBaseline(string directory, byte[] piece)
    {
        var source = Path.Combine(directory, "hostpath.img");
        using (var handle = File.OpenHandle(source, FileMode.Create, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(handle, 1L << 30);
            var random = new Random(2);
            for (var i = 0; i < 1024; i++)
            {
                RandomAccess.Write(handle, piece, piece.Length * (long)random.Next((1 << 30) / piece.Length));
            }
        }
        var started = Stopwatch.GetTimestamp();
        File.Copy(source, source + ".copy");
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        File.Delete(source + ".copy");
        File.Delete(source);
        return elapsed;
    }
}
