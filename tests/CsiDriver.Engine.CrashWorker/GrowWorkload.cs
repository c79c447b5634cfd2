using System.Buffers.Binary;
using System.Globalization;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Replication;

namespace CsiDriver.Engine.CrashWorker;

/// <summary>
/// The crash test of replica batches that grow their volume, run in the child the test kills:
/// batch b (from 0) covers the main-site sequence (b, b + 1], grows the replica by one chunk,
/// writes the new chunk with content of its own and writes the position it leads to into the
/// first block. So the replica at position p is known exactly (<see cref="SizeAt"/>,
/// <see cref="Content"/>, <see cref="Marker"/>). Background checkpoints run often, so kills find
/// them between a grow's catalog write and its data reaching the data file. Shared with the
/// test, which compiles this same file.
/// </summary>
public static class GrowWorkload
{
    public const string VolumeId = "grown";
    public const string Group = "r";
    public const int Chunk = 64 << 10;
    private const int Block = 4096;

    /// <summary>Bounds the replica (sparse) should the test fail to kill it: 256 MiB.</summary>
    private const int MaxBatches = 4096;

    public static EngineOptions Options => new() { CheckpointInterval = TimeSpan.FromMilliseconds(50) };

    /// <summary>The replica at position 0, one chunk, on a fresh data directory.</summary>
    public static void Prepare(string dataDirectory)
    {
        using var engine = StorageEngine.Open(dataDirectory, Options);
        engine.CreateReplicaVolume(VolumeId, SizeAt(0), Group);
    }

    /// <summary>Applies batches from the replica's position on, as a receiver does, until killed;
    /// prints READY once open and <see cref="AcknowledgedLine"/> once each batch is durable.</summary>
    public static async Task RunAsync(string dataDirectory, TextWriter output)
    {
        var engine = StorageEngine.Open(dataDirectory, Options); // never closed: the test kills the process
        var group = engine.Groups.Single(g => g.Name == Group);
        var position = engine.GetReplicaPosition(group).SourceSequence;
        output.WriteLine("READY");
        for (var batch = position; batch < position + MaxBatches; batch++)
        {
            var applied = await engine.ApplyReplicaBatchAsync(group, Batch(batch));
            output.WriteLine(AcknowledgedLine(applied.SourceSequence));
        }
        await Task.Delay(Timeout.Infinite);
    }

    public static ReplicaBatch Batch(long batch) => new(batch, batch + 1, batch + 1, [
        new ReplicaUpdate(VolumeId, JournalRecordKind.Resize, 0, SizeAt(batch + 1), ReadOnlyMemory<byte>.Empty),
        ReplicaUpdate.Write(VolumeId, SizeAt(batch), Content(batch)),
        ReplicaUpdate.Write(VolumeId, 0, Marker(batch + 1))]);

    /// <summary>The replica's size at <paramref name="position"/>.</summary>
    public static long SizeAt(long position) => (position + 1) * Chunk;

    /// <summary>What batch <paramref name="batch"/> writes into the chunk it adds.</summary>
    public static byte[] Content(long batch)
    {
        var data = new byte[Chunk];
        data.AsSpan().Fill((byte)(batch * 31 + 7));
        BinaryPrimitives.WriteInt64LittleEndian(data, batch);
        return data;
    }

    /// <summary>The first block at <paramref name="position"/> (above 0).</summary>
    public static byte[] Marker(long position)
    {
        var data = new byte[Block];
        BinaryPrimitives.WriteInt64LittleEndian(data, position);
        return data;
    }

    public static string AcknowledgedLine(long position) => string.Create(CultureInfo.InvariantCulture, $"A {position}");

    /// <summary>The position of an <see cref="AcknowledgedLine"/>; null for any other line.</summary>
    public static long? AcknowledgedOf(string line) =>
        line.StartsWith("A ", StringComparison.Ordinal) ? long.Parse(line[2..], CultureInfo.InvariantCulture) : null;
}
