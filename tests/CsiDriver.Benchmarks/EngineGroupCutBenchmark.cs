using CsiDriver.Engine;

namespace CsiDriver.Benchmarks;

/// <summary>
/// The writers' pause of an atomic cut across consistency groups: writers keep 4 KiB writes
/// going on four volumes (two in one named group, two in groups of their own) while group
/// snapshots of all four are taken; each cut reports how long writers were held. The baseline
/// is the time of one 4 KiB write measured alongside, so the pause reads as "writes' worth".
/// </summary>
public sealed class EngineGroupCutBenchmark : IBenchmark
{
    private const int Cuts = 40;

    public string Name => "groupcut";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        using var engine = StorageEngine.Open(Path.Combine(context.WorkDirectory, "engine"));
        string?[] groups = ["orders", "orders", null, null];
        var volumes = groups.Select((g, i) => engine.CreateVolume($"v{i}", 1L << 30, g)).ToList();
        using var stop = new CancellationTokenSource();
        long writes = 0;
        var started = DateTime.UtcNow;
        var writers = volumes.Select((volume, i) => Task.Run(async () =>
        {
            var block = new byte[4096];
            var random = new Random(i);
            while (!stop.IsCancellationRequested)
            {
                await volume.WriteAsync(4096L * random.Next(1 << 18), block, fua: false, CancellationToken.None);
                Interlocked.Increment(ref writes);
            }
        }, CancellationToken.None)).ToList();

        var pauses = new List<double>();
        for (var cut = 0; cut < Cuts; cut++)
        {
            await Task.Delay(25, cancellationToken);
            engine.CreateGroupSnapshot(volumes.Select(v => (v.Id, $"{v.Id}-cut{cut}")).ToList(), out var groupCut);
            pauses.Add(groupCut.WriterPause.TotalMicroseconds);
        }
        await stop.CancelAsync();
        await Task.WhenAll(writers);
        var writeMicros = (DateTime.UtcNow - started).TotalMicroseconds / Interlocked.Read(ref writes) * volumes.Count;
        pauses.Sort();
        var median = pauses[pauses.Count / 2];
        context.Progress.WriteLine($"   {Cuts} cuts across 3 groups: writer pause median {median:0} µs, max {pauses[^1]:0} µs; one write ≈ {writeMicros:0.0} µs per writer");
        return
        [
            new BenchmarkFigure("writer pause / one write (median)", median / writeMicros, "x"),
            new BenchmarkFigure("writer pause, median", median, "µs"),
            new BenchmarkFigure("writer pause, max", pauses[^1], "µs"),
        ];
    }
}
