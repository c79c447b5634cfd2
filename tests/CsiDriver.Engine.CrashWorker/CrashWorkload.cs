using System.Buffers.Binary;

namespace CsiDriver.Engine.CrashWorker;

/// <summary>
/// The crash tests' workload, shared by the child that runs it and the test that checks what
/// survived (the test project compiles this same file). Two streams of operations, each a pure
/// function of (seed, index): stream 0 on volumes "a" and "b" of group "g", stream 1 on the
/// volume "c" in a group of its own. Every written 4 KiB block starts with its stream and
/// operation index, so the state after recovery can be matched to a prefix of each stream.
/// </summary>
public static class CrashWorkload
{
    public const long VolumeSize = 1 << 21;
    public const string Group = "g";
    public const int FlushEvery = 16;
    public const int SnapshotEvery = 120;
    public static readonly string[] GroupVolumes = ["a", "b"];
    public const string SoloVolume = "c";

    public static EngineOptions Options => new()
    {
        SegmentBytes = 256 << 10,
        CheckpointJournalBytes = 1 << 20,
        CheckpointInterval = TimeSpan.FromMilliseconds(300),
        RetentionBudgetBytes = 1 << 20,
    };

    public readonly record struct Operation(int Stream, long Index, string Volume, bool Trim, long Offset, int Length);

    public static Operation For(int seed, int stream, long index)
    {
        // Not HashCode.Combine: it is seeded per process, and both processes must agree.
        var random = new Random(unchecked((int)(seed * 1_000_003L + stream * 7_919L + index * 104_729L)));
        var volume = stream == 0 ? GroupVolumes[random.Next(GroupVolumes.Length)] : SoloVolume;
        var blocks = 1 + random.Next(6);
        var offset = 4096L * random.Next((int)(VolumeSize / 4096) - blocks);
        return new Operation(stream, index, volume, random.Next(10) == 0, offset, blocks * 4096);
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

    /// <summary>Runs until killed (or a bound is reached), printing "READY" once open, "F g c"
    /// after each completed flush (operations below those indexes are durable) and "S i"
    /// after each group snapshot at stream-0 index i.</summary>
    public static async Task RunAsync(string dataDirectory, int seed, long nextGroupIndex, long nextSoloIndex, TextWriter output)
    {
        using var engine = StorageEngine.Open(dataDirectory, Options);
        output.WriteLine("READY");
        var next = new[] { nextGroupIndex, nextSoloIndex };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        for (var step = 0; step < 200_000 && DateTime.UtcNow < deadline; step++)
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
                var old = next[0] - 2 * SnapshotEvery;
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
    }
}
