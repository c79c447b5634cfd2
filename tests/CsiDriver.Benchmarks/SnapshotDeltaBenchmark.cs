using System.Diagnostics;
using CsiDriver.Engine;

namespace CsiDriver.Benchmarks;

/// <summary>
/// Changed-block tracking against comparing whole snapshots: a 100 GiB thin volume holding
/// 512 MiB, snapshotted, then 1 % of it (1 GiB, scattered 64 KiB chunks) rewritten and
/// snapshotted again. The delta is asked of the engine twice: while the journal holds the
/// writes (the 4 KiB answer, which reads the journal between the cuts) and after a checkpoint
/// released them (the chunk answer, from the chunk maps). The baseline is what a backup without
/// changed-block tracking does: read both snapshots whole and compare them. Both answers are
/// checked against what was written.
/// </summary>
public sealed class SnapshotDeltaBenchmark : IBenchmark
{
    private const long VolumeBytes = 100L << 30;
    private const int Piece = ChunkRange.ChunkSize;
    private const int BaseChunks = (512 << 20) / Piece;
    private const int ChangedChunks = (int)(VolumeBytes / 100 / Piece);

    public string Name => "delta";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        using var engine = StorageEngine.Open(Path.Combine(context.WorkDirectory, "engine"), new EngineOptions { BackgroundCheckpoints = false });
        var volume = engine.CreateVolume("thin", VolumeBytes);
        var random = new Random(18);
        var data = new byte[Piece];
        random.NextBytes(data);
        var chunks = VolumeBytes / Piece;
        context.Progress.WriteLine($"   writing {BaseChunks * (long)Piece >> 20} MiB into a {VolumeBytes >> 30} GiB volume, then rewriting 1 % ({ChangedChunks * (long)Piece >> 20} MiB)");
        await WriteChunksAsync(volume, Enumerable.Range(0, BaseChunks).Select(_ => random.NextInt64(chunks)), data, cancellationToken);
        engine.Checkpoint();
        engine.CreateSnapshot(volume.Id, "base");
        var changed = new SortedSet<long>();
        while (changed.Count < ChangedChunks)
        {
            changed.Add(random.NextInt64(chunks));
        }
        await WriteChunksAsync(volume, changed, data, cancellationToken, context.Progress);
        engine.CreateSnapshot(volume.Id, "target");
        var expected = changed.Count * (long)Piece;

        var journalAnswer = Timed(() => engine.ChangedBlocks("base", "target"), out var journalSeconds);
        Check(journalAnswer, ChangedBlocksFrom.Journal, expected);
        context.Progress.WriteLine($"   delta from the journal: {journalAnswer.Ranges.Count} ranges, {journalAnswer.ChangedBytes >> 20} MiB, {journalSeconds * 1000:0} ms");
        engine.Checkpoint();
        var chunkAnswer = Timed(() => engine.ChangedBlocks("base", "target"), out var chunkSeconds);
        Check(chunkAnswer, ChangedBlocksFrom.ChunkMaps, expected);
        context.Progress.WriteLine($"   delta from the chunk maps (journal released): {chunkAnswer.Ranges.Count} ranges, {chunkSeconds * 1000:0} ms");

        var started = Stopwatch.GetTimestamp();
        var differing = await CompareWholeAsync(engine.OpenSnapshot("base"), engine.OpenSnapshot("target"), context.Progress, cancellationToken);
        var compareSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        context.Progress.WriteLine($"   reading both snapshots whole and comparing: {differing >> 20} MiB differ, {compareSeconds:0.0} s");
        if (differing > expected)
        {
            throw new InvalidOperationException($"the snapshots differ in {differing} bytes, more than the {expected} rewritten");
        }
        return
        [
            new BenchmarkFigure("compare whole / delta (chunk maps)", compareSeconds / chunkSeconds, "x", BenchmarkGoal.AtLeast(10)),
            new BenchmarkFigure("compare whole / delta (journal, 4 KiB)", compareSeconds / journalSeconds, "x", BenchmarkGoal.AtLeast(10)),
            new BenchmarkFigure("delta time, chunk maps (100 GiB, 1 %)", chunkSeconds * 1000, "ms"),
            new BenchmarkFigure("delta time, journal (100 GiB, 1 %)", journalSeconds * 1000, "ms"),
            new BenchmarkFigure("compare time, both snapshots whole", compareSeconds, "s"),
        ];
    }

    private enum ChangedBlocksFrom
    {
        Journal,
        ChunkMaps,
    }

    /// <summary>Both answers list exactly the rewritten chunks here (whole chunks were written).</summary>
    private static void Check(SnapshotDelta delta, ChangedBlocksFrom from, long expected)
    {
        var fromJournal = delta.Why is null;
        if (fromJournal != (from == ChangedBlocksFrom.Journal) || delta.ChangedBytes != expected)
        {
            throw new InvalidOperationException($"expected {expected} bytes from the {from}; got {delta.ChangedBytes} in {delta.BlockSize}-byte units ({delta.Why ?? "journal"})");
        }
    }

    private static async Task WriteChunksAsync(Volume volume, IEnumerable<long> chunks, byte[] data, CancellationToken ct, TextWriter? progress = null)
    {
        var written = 0;
        foreach (var chunk in chunks)
        {
            data[0] = (byte)written;
            await volume.WriteAsync(chunk * Piece, data, fua: false, ct);
            if (progress != null && ++written % 4096 == 0)
            {
                progress.WriteLine($"   rewritten {written * (long)Piece >> 20} MiB");
            }
        }
        await volume.FlushAsync(ct);
    }

    /// <summary>Reads both devices in 4 MiB pieces and counts the bytes of pieces that differ.</summary>
    private static async Task<long> CompareWholeAsync(IBlockDevice left, IBlockDevice right, TextWriter progress, CancellationToken ct)
    {
        const int Step = 4 << 20;
        var a = new byte[Step];
        var b = new byte[Step];
        long differing = 0;
        for (long offset = 0; offset < left.Size; offset += Step)
        {
            await left.ReadAsync(offset, a, ct);
            await right.ReadAsync(offset, b, ct);
            for (var i = 0; i < Step; i += Piece)
            {
                if (!a.AsSpan(i, Piece).SequenceEqual(b.AsSpan(i, Piece)))
                {
                    differing += Piece;
                }
            }
            if ((offset + Step) % (10L << 30) == 0)
            {
                progress.WriteLine($"   compared {(offset + Step) >> 30} GiB of {left.Size >> 30}");
            }
        }
        return differing;
    }

    private static T Timed<T>(Func<T> action, out double seconds)
    {
        var started = Stopwatch.GetTimestamp();
        var result = action();
        seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return result;
    }
}
