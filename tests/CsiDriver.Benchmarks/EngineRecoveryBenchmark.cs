using System.Diagnostics;
using CsiDriver.Engine;

namespace CsiDriver.Benchmarks;

/// <summary>
/// Recovery time after a crash with a 1 GiB journal tail: 1 GiB of 64 KiB writes since the last
/// checkpoint, the engine closed as a crash leaves it (no checkpoint), then reopened, which
/// replays the tail and checkpoints (syncing the replayed data). The baseline is reading the same
/// journal files sequentially, the floor any replay must pay.
/// </summary>
public sealed class EngineRecoveryBenchmark : IBenchmark
{
    private const long TailBytes = 1L << 30;

    public string Name => "recovery";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(context.WorkDirectory, "engine");
        var options = new EngineOptions { BackgroundCheckpoints = false, CheckpointJournalBytes = 2 * TailBytes };
        var engine = StorageEngine.Open(directory, options);
        var volume = engine.CreateVolume("v", 4L << 30);
        var piece = new byte[64 << 10];
        var random = new Random(3);
        for (long written = 0; written < TailBytes; written += piece.Length)
        {
            random.NextBytes(piece.AsSpan(0, 64));
            await volume.WriteAsync(piece.Length * (long)random.Next((int)(volume.Size / piece.Length)), piece, fua: false, cancellationToken);
        }
        await volume.FlushAsync(cancellationToken);
        engine.CloseWithoutCheckpoint();
        var journalBytes = Directory.EnumerateFiles(Path.Combine(directory, "journals"), "*.seg", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

        var readStarted = Stopwatch.GetTimestamp();
        var buffer = new byte[1 << 20];
        foreach (var file in Directory.EnumerateFiles(Path.Combine(directory, "journals"), "*.seg", SearchOption.AllDirectories))
        {
            using var stream = File.OpenRead(file);
            while (await stream.ReadAsync(buffer, cancellationToken) > 0)
            {
            }
        }
        var readSeconds = Stopwatch.GetElapsedTime(readStarted).TotalSeconds;

        var started = Stopwatch.GetTimestamp();
        using var recovered = StorageEngine.Open(directory, options);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var replaySeconds = recovered.Recovery.Sum(r => r.ReplayTime.TotalSeconds);
        var replayed = recovered.Recovery.Sum(r => r.ReplayedBytes);
        context.Progress.WriteLine($"   journal {journalBytes >> 20} MiB, replayed {replayed >> 20} MiB in {replaySeconds:0.00} s; " +
            $"open with the checkpoint that makes it durable {seconds:0.00} s; sequential read of the journal {readSeconds:0.00} s");
        return
        [
            new BenchmarkFigure("replay time / journal read time", replaySeconds / readSeconds, "x"),
            new BenchmarkFigure("replay time, 1 GiB journal tail", replaySeconds, "s"),
            new BenchmarkFigure("recovery time incl. checkpoint (open)", seconds, "s"),
            new BenchmarkFigure("replay throughput", replayed / replaySeconds / (1 << 20), "MB/s"),
        ];
    }
}
