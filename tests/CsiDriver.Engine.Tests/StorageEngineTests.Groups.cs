using System.Buffers.Binary;
using System.Text;
using CsiDriver.Engine.Journal;

namespace CsiDriver.Engine.Tests;

public sealed partial class StorageEngineTests
{
    /// <summary>
    /// Writers each own a pair of volumes in different groups (one named group, one group of
    /// one) and write counter k to the first, then, once acknowledged, k to the second. A cut
    /// across the groups is atomic only if no snapshot of the second volume shows a counter its
    /// first volume's snapshot lacks.
    /// </summary>
    [Fact]
    public async Task GroupSnapshotAcrossGroupsIsOneCutUnderConcurrentWriters()
    {
        using var engine = Open();
        const int Writers = 3;
        for (var w = 0; w < Writers; w++)
        {
            engine.CreateVolume($"first{w}", Chunk, "orders");
            engine.CreateVolume($"second{w}", Chunk);
        }
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            var block = new byte[4096];
            for (long k = 1; !stop.IsCancellationRequested && k < 1_000_000; k++)
            {
                BinaryPrimitives.WriteInt64LittleEndian(block, k);
                await engine.GetVolume($"first{w}").WriteAsync(0, block, fua: false);
                await engine.GetVolume($"second{w}").WriteAsync(0, block, fua: false);
            }
        })).ToList();

        var cuts = 0;
        for (var round = 0; round < 10; round++)
        {
            await Task.Delay(5);
            var members = Enumerable.Range(0, Writers)
                .SelectMany(w => new[] { ($"first{w}", $"r{round}-first{w}"), ($"second{w}", $"r{round}-second{w}") })
                .ToList();
            engine.CreateGroupSnapshot(members, out var cut);
            Assert.Equal(1 + Writers, cut.Points.Count);
            Assert.True(cut.WriterPause > TimeSpan.Zero);
            var orders = Assert.Single(cut.Points, p => p.ConsistencyGroup == "orders");
            Assert.Equal(Writers, orders.VolumeIds.Count);
            for (var w = 0; w < Writers; w++)
            {
                var first = Counter(engine, $"r{round}-first{w}");
                var second = Counter(engine, $"r{round}-second{w}");
                Assert.True(first >= second, $"round {round}: second{w} shows {second} but first{w} only {first}");
                Assert.Equal(orders.Sequence, engine.FindSnapshot($"r{round}-first{w}")!.Sequence);
                cuts += first > 0 ? 1 : 0;
            }
        }
        await stop.CancelAsync();
        await Task.WhenAll(writers);
        Assert.True(cuts > 0, "writers never got going");
    }

    private static long Counter(StorageEngine engine, string snapshotId) =>
        BinaryPrimitives.ReadInt64LittleEndian(Bytes.Read(engine.OpenSnapshot(snapshotId), 0, 8));

    [Fact]
    public void MovingAVolumeKeepsOrderWithBarrierRecords()
    {
        using (var engine = Open())
        {
            var volume = engine.CreateVolume("v", Chunk);
            var solo = volume.Group;
            Bytes.Write(volume, 0, Bytes.Pattern(4096, 1));
            engine.MoveVolume("v", "g");
            Assert.Equal("g", volume.ConsistencyGroup);
            Assert.DoesNotContain(solo, engine.Groups);
            Bytes.Write(volume, 0, Bytes.Pattern(4096, 2));
            var records = engine.ReadJournal(engine.Group("g"), 1).ToList();
            Assert.Equal([JournalRecordKind.Barrier, JournalRecordKind.Write], records.Select(r => r.Kind));
            Assert.Equal("join " + solo, Encoding.UTF8.GetString(records[0].Payload.Span));
            Assert.Equal("v", records[1].VolumeId);
            engine.CloseWithoutCheckpoint();
        }
        using (var engine = Open())
        {
            var volume = engine.GetVolume("v");
            Assert.Equal(Bytes.Pattern(4096, 2), Bytes.Read(volume, 0, 4096));
            engine.MoveVolume("v", null);
            Bytes.Write(volume, 4096, Bytes.Pattern(4096, 3));
            engine.CloseWithoutCheckpoint();
        }
        using (var engine = Open())
        {
            var volume = engine.GetVolume("v");
            Assert.Null(volume.ConsistencyGroup);
            Assert.Equal([.. Bytes.Pattern(4096, 2), .. Bytes.Pattern(4096, 3)], Bytes.Read(volume, 0, 8192));
            Assert.Empty(engine.GetJournalStatus(engine.Group("g")).VolumeIds);
        }
    }

    [Fact]
    public async Task ChangedChunksListWhatDiffersBetweenSnapshots()
    {
        using var engine = Open();
        var volume = engine.CreateVolume("v", 8 * Chunk);
        Bytes.Write(volume, 1 * Chunk, Bytes.Pattern(Chunk, 1));
        Bytes.Write(volume, 3 * Chunk + 4096, Bytes.Pattern(4096, 2));
        engine.CreateSnapshot("v", "s1");
        Bytes.Write(volume, 5 * Chunk, Bytes.Pattern(2 * Chunk, 3));
        await volume.TrimAsync(Chunk, Chunk);
        engine.CreateSnapshot("v", "s2");
        engine.CreateVolumeFromSnapshot("c", "s1", 8 * Chunk);
        Bytes.Write(engine.GetVolume("c"), 7 * Chunk, Bytes.Pattern(10, 4));
        engine.CreateSnapshot("c", "c1");

        Assert.Equal([new ChunkRange(Chunk, Chunk), new ChunkRange(3 * Chunk, Chunk)], engine.AllocatedChunks("s1"));
        Assert.Equal([new ChunkRange(Chunk, Chunk), new ChunkRange(3 * Chunk, Chunk), new ChunkRange(5 * Chunk, 2 * Chunk)], engine.AllocatedChunks("s2"));
        Assert.Equal([new ChunkRange(Chunk, Chunk), new ChunkRange(5 * Chunk, 2 * Chunk)], engine.ChangedChunks("s1", "s2"));
        Assert.Equal(engine.ChangedChunks("s1", "s2"), engine.ChangedChunks("s2", "s1"));
        Assert.Equal([new ChunkRange(7 * Chunk, Chunk)], engine.ChangedChunks("s1", "c1"));
        Assert.Empty(engine.ChangedChunks("s1", "s1"));
        Assert.Throws<SnapshotNotFoundException>(() => engine.ChangedChunks("s1", "nope"));
    }
}
