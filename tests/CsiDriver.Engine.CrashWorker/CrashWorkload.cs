using System.Buffers.Binary;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Replication;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Engine.CrashWorker;

/// <summary>
/// The crash tests' workload, shared by the child that runs it and the test that checks what
/// survived (the test project compiles this same file). Three streams of operations, each a pure
/// function of (seed, index): stream 0 on volumes "a" and "b" of group "g", stream 1 on the
/// volume "c" in a group of its own, and stream 2, the replica stream: batches of
/// <see cref="UpdatesPerBatch"/> main-site updates applied to the replicas "ra" and "rb" of
/// replica group "r", as a backup site applies them. Every written 4 KiB block starts with its
/// stream and operation index, so the state after recovery can be matched to a prefix of each
/// stream.
/// </summary>
public static class CrashWorkload
{
    public const long VolumeSize = 1 << 21;
    public const string Group = "g";
    public const int FlushEvery = 16;
    public const int SnapshotEvery = 120;

    /// <summary>Stream-0 operations after a group snapshot's cut at which the worker, having just
    /// taken that later cut, deletes it (one volume's snapshot at a time).</summary>
    public const int CutLifetime = 2 * SnapshotEvery;
    public const int Streams = 3;
    public const int ReplicaStream = 2;
    public const int UpdatesPerBatch = 4;
    public const int UnackedBatches = 4;
    public static readonly string[] GroupVolumes = ["a", "b"];
    public const string SoloVolume = "c";
    public const string ReplicaGroup = "r";
    public static readonly string[] ReplicaVolumes = ["ra", "rb"];

    public static EngineOptions Options => new()
    {
        SegmentBytes = 256 << 10,
        CheckpointJournalBytes = 1 << 20,
        CheckpointInterval = TimeSpan.FromMilliseconds(300),
        RetentionBudgetBytes = 1 << 20,
    };

    /// <summary>The volumes each stream writes.</summary>
    public static IReadOnlyList<string> VolumesOf(int stream) => stream switch
    {
        0 => GroupVolumes,
        1 => [SoloVolume],
        _ => ReplicaVolumes,
    };

    public readonly record struct Operation(int Stream, long Index, string Volume, bool Trim, long Offset, int Length);

    public static Operation For(int seed, int stream, long index)
    {
        // Not HashCode.Combine: it is seeded per process, and both processes must agree.
        var random = new Random(unchecked((int)(seed * 1_000_003L + stream * 7_919L + index * 104_729L)));
        var volumes = VolumesOf(stream);
        var volume = volumes[random.Next(volumes.Count)];
        var blocks = 1 + random.Next(6);
        var offset = 4096L * random.Next((int)(VolumeSize / 4096) - blocks);
        return new Operation(stream, index, volume, random.Next(10) == 0, offset, blocks * 4096);
    }

    /// <summary>Replica batch <paramref name="batch"/> (from 0): the main-site sequences
    /// (batch × <see cref="UpdatesPerBatch"/>, (batch + 1) × <see cref="UpdatesPerBatch"/>], one
    /// replica-stream operation each.</summary>
    public static ReplicaBatch Batch(int seed, long batch)
    {
        var updates = OperationsOf(seed, batch)
            .Select(op => op.Trim
                ? new ReplicaUpdate(op.Volume, JournalRecordKind.Trim, op.Offset, op.Length, ReadOnlyMemory<byte>.Empty)
                : ReplicaUpdate.Write(op.Volume, op.Offset, Content(op)))
            .ToList();
        return new ReplicaBatch(batch * UpdatesPerBatch, (batch + 1) * UpdatesPerBatch, batch + 1, updates);
    }

    /// <summary>The replica-stream operations of batch <paramref name="batch"/>, in order.</summary>
    public static IEnumerable<Operation> OperationsOf(int seed, long batch)
    {
        for (var i = 0; i < UpdatesPerBatch; i++)
        {
            yield return For(seed, ReplicaStream, batch * UpdatesPerBatch + i);
        }
    }

    public static byte[] Content(in Operation op)
    {
        var data = new byte[op.Length];
        for (var block = 0; block < op.Length; block += 4096)
        {
            var span = data.AsSpan(block, 4096);
            span.Fill((byte)(op.Index * 31 + block / 4096));
            BinaryPrimitives.WriteInt32LittleEndian(span, op.Stream + 1);
            BinaryPrimitives.WriteInt64LittleEndian(span[4..], op.Index);
        }
        return data;
    }

    public static void Apply(in Operation op, IReadOnlyDictionary<string, byte[]> model)
    {
        var target = model[op.Volume].AsSpan((int)op.Offset, op.Length);
        if (op.Trim)
        {
            target.Clear();
        }
        else
        {
            Content(op).CopyTo(target);
        }
    }

    /// <summary>The highest operation index of <paramref name="stream"/> found in the data.</summary>
    public static long HighestIndex(int stream, byte[] data)
    {
        long highest = -1;
        for (var block = 0; block < data.Length; block += 4096)
        {
            if (BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(block)) == stream + 1)
            {
                highest = Math.Max(highest, BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(block + 4)));
            }
        }
        return highest;
    }

    public static string SnapshotName(int volume, long index) => $"cut-{index}-{GroupVolumes[volume]}";

    /// <summary>Runs until killed (or a bound is reached), printing "READY" once open, "L ..." for
    /// each line the engine logs (checkpoints, failures), "F g c"
    /// after each completed flush (operations of streams 0 and 1 below those indexes are
    /// durable), "S i" after each group snapshot at stream-0 index i, and "R n" once replica
    /// batches below n are durable (what the backup acknowledges). Streams 0 and 1 alternate in
    /// one loop, <paramref name="steps"/> operations at most; the replica stream runs beside
    /// them, as an applier does, until that loop ends.</summary>
    public static async Task RunAsync(string dataDirectory, int seed, IReadOnlyList<long> nextIndexes, TextWriter output, int steps = 200_000)
    {
        output = TextWriter.Synchronized(output);
        using var engine = StorageEngine.Open(dataDirectory, Options with { LoggerFactory = new LineLog(output) });
        output.WriteLine("READY");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        using var stop = new CancellationTokenSource();
        var replicas = Task.Run(() => ApplyReplicaBatchesAsync(engine, seed, nextIndexes[ReplicaStream], deadline, stop.Token, output));
        var next = nextIndexes.Take(ReplicaStream).ToArray();
        for (var step = 0; step < steps && DateTime.UtcNow < deadline; step++)
        {
            var stream = step % 2;
            var op = For(seed, stream, next[stream]);
            var volume = engine.GetVolume(op.Volume);
            if (op.Trim)
            {
                await volume.TrimAsync(op.Offset, op.Length);
            }
            else
            {
                await volume.WriteAsync(op.Offset, Content(op), fua: op.Index % 7 == 0);
            }
            next[stream]++;
            if (stream == 0 && next[0] % SnapshotEvery == 0)
            {
                engine.CreateGroupSnapshot([(GroupVolumes[0], SnapshotName(0, next[0])), (GroupVolumes[1], SnapshotName(1, next[0]))]);
                output.WriteLine($"S {next[0]}");
                var old = next[0] - CutLifetime;
                engine.DeleteSnapshot(SnapshotName(0, old));
                engine.DeleteSnapshot(SnapshotName(1, old));
            }
            if (step % (2 * FlushEvery) == 2 * FlushEvery - 1)
            {
                await engine.GetVolume(GroupVolumes[0]).FlushAsync();
                await engine.GetVolume(SoloVolume).FlushAsync();
                output.WriteLine($"F {next[0]} {next[1]}");
            }
        }
        stop.Cancel();
        await replicas;
    }

    /// <summary>As the backup's receiver applies: each batch handed over while up to
    /// <see cref="UnackedBatches"/> earlier ones wait for their sync (a kill finds batches
    /// appended, not yet durable, and durable ones not yet in the data files), and reported, in
    /// order, once durable.</summary>
    private static async Task ApplyReplicaBatchesAsync(StorageEngine engine, int seed, long next, DateTime deadline, CancellationToken stop, TextWriter output)
    {
        var group = engine.Groups.Single(g => g.Name == ReplicaGroup);
        var unacked = new Queue<Task>();
        for (var applied = 0; applied < 50_000 && DateTime.UtcNow < deadline && !stop.IsCancellationRequested; applied++)
        {
            unacked.Enqueue(engine.AppendReplicaBatch(group, Batch(seed, next++)).Durable);
            while (unacked.TryPeek(out var oldest) && (oldest.IsCompleted || unacked.Count > UnackedBatches))
            {
                await unacked.Dequeue();
                output.WriteLine($"R {next - unacked.Count}");
            }
        }
        while (unacked.TryDequeue(out var oldest))
        {
            await oldest;
            output.WriteLine($"R {next - unacked.Count}");
        }
    }

    /// <summary>Creates the volumes on a fresh data directory.</summary>
    public static void Prepare(string dataDirectory)
    {
        using var engine = StorageEngine.Open(dataDirectory, Options);
        foreach (var id in GroupVolumes)
        {
            engine.CreateVolume(id, VolumeSize, Group);
        }
        engine.CreateVolume(SoloVolume, VolumeSize);
        foreach (var id in ReplicaVolumes)
        {
            engine.CreateReplicaVolume(id, VolumeSize, ReplicaGroup);
        }
    }

    /// <summary>The engine's log as lines on the worker's output, so a failed check can show what
    /// the engine did before the cut.</summary>
    private sealed class LineLog(TextWriter output) : ILoggerFactory, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            output.WriteLine($"L {logLevel} {formatter(state, exception)}" + (exception == null ? "" : $" ({exception.GetType().Name}: {exception.Message})"));
    }
}
