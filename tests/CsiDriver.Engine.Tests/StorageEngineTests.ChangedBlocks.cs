using CsiDriver.Engine.Replication;

namespace CsiDriver.Engine.Tests;

/// <summary>Changed blocks between two snapshots: per 4 KiB block while the journal holds the
/// records between the cuts, per chunk otherwise; never missing a changed byte.</summary>
public sealed partial class StorageEngineTests
{
    private const int Block = SnapshotDelta.JournalBlockSize;

    /// <summary>Small segments, so a checkpoint can release the records between two snapshots.</summary>
    private static readonly EngineOptions SmallSegments = new() { BackgroundCheckpoints = false, SegmentBytes = 256 << 10 };

    [Fact]
    public void DeltaIsExactlyTheWrittenBlocksWhileTheJournalHoldsThem()
    {
        using var engine = Open(SmallSegments);
        var volume = engine.CreateVolume("v", 256 * Chunk);
        var random = new Random(18);
        WriteRandomBlocks(volume, random, 50);
        engine.CreateSnapshot("v", "s1");
        var written = WriteRandomBlocks(volume, random, 400);
        engine.CreateSnapshot("v", "s2");
        WriteRandomBlocks(volume, random, 50);

        var delta = engine.ChangedBlocks("s1", "s2");

        Assert.Null(delta.Why);
        Assert.Equal(Block, delta.BlockSize);
        Assert.Equal(256L * Chunk, delta.SizeBytes);
        Assert.Equal(Ranges(written, Block, delta.SizeBytes), delta.Ranges);
        Assert.True(OutsideEqual(Bytes.ReadAll(engine.OpenSnapshot("s1")), Bytes.ReadAll(engine.OpenSnapshot("s2")), delta.Ranges));
        Assert.Empty(engine.ChangedBlocks("s2", "s2").Ranges);
    }

    [Fact]
    public void DeltaIsExactlyTheWrittenChunksOnceACheckpointReleasedTheRecords()
    {
        using var engine = Open(SmallSegments);
        var volume = engine.CreateVolume("v", 256 * Chunk);
        var random = new Random(1818);
        engine.CreateSnapshot("v", "s1");
        var written = WriteRandomBlocks(volume, random, 400);
        engine.CreateSnapshot("v", "s2");
        // Past the segment the cut records are in, so the checkpoint can release it.
        Bytes.Write(volume, 0, Bytes.Pattern(512 << 10, 7));
        engine.Checkpoint();

        var delta = engine.ChangedBlocks("s1", "s2");

        Assert.Equal(Chunk, delta.BlockSize);
        Assert.Contains("released", delta.Why);
        Assert.Equal(Ranges(written.Select(b => b * Block / Chunk).ToHashSet(), Chunk, delta.SizeBytes), delta.Ranges);
        Assert.True(OutsideEqual(Bytes.ReadAll(engine.OpenSnapshot("s1")), Bytes.ReadAll(engine.OpenSnapshot("s2")), delta.Ranges));
    }

    [Fact]
    public async Task DeltaCountsTrimsAndZeroesAndRoundsPartialBlocksOut()
    {
        using var engine = Open();
        var volume = engine.CreateVolume("v", 8 * Chunk);
        Bytes.Write(volume, 0, Bytes.Pattern(8 * Chunk, 1));
        engine.CreateSnapshot("v", "s1");
        Bytes.Write(volume, 3 * Block + 100, Bytes.Pattern(10, 2));
        await volume.TrimAsync(2 * Chunk, 2 * Block);
        await volume.WriteZeroesAsync(5 * Chunk + Block, 3 * Block, fua: false);
        engine.CreateSnapshot("v", "s2");

        var delta = engine.ChangedBlocks("s1", "s2");

        Assert.Equal(Block, delta.BlockSize);
        Assert.Equal([new ChunkRange(3 * Block, Block), new ChunkRange(2 * Chunk, 2 * Block), new ChunkRange(5 * Chunk + Block, 3 * Block)], delta.Ranges);
    }

    [Fact]
    public void ClonesAreTrackedPerBlockAndUnrelatedPairsPerChunk()
    {
        using var engine = Open();
        var source = engine.CreateVolume("v", 16 * Chunk);
        Bytes.Write(source, 0, Bytes.Pattern(16 * Chunk, 1));
        engine.CreateSnapshot("v", "s1");
        var clone = engine.CloneVolume("c", "v", 16 * Chunk);
        Bytes.Write(source, 9 * Chunk, Bytes.Pattern(Block, 2));
        engine.CreateSnapshot("c", "c1");
        Bytes.Write(clone, 4 * Chunk + 2 * Block, Bytes.Pattern(2 * Block, 3));
        engine.CreateSnapshot("c", "c2");
        engine.CreateSnapshot("v", "s2");

        var ofClone = engine.ChangedBlocks("c1", "c2");
        Assert.Equal(Block, ofClone.BlockSize);
        Assert.Equal([new ChunkRange(4 * Chunk + 2 * Block, 2 * Block)], ofClone.Ranges);

        var ofSource = engine.ChangedBlocks("s1", "s2");
        Assert.Equal([new ChunkRange(9 * Chunk, Block)], ofSource.Ranges);

        // The clone's snapshot against the source's: both sides of their common layer, per chunk.
        var across = engine.ChangedBlocks("s2", "c2");
        Assert.Equal(Chunk, across.BlockSize);
        Assert.NotNull(across.Why);
        Assert.True(across.SharesHistory);
        Assert.Equal([new ChunkRange(4 * Chunk, Chunk), new ChunkRange(9 * Chunk, Chunk)], across.Ranges);
        Assert.True(OutsideEqual(Bytes.ReadAll(engine.OpenSnapshot("s2")), Bytes.ReadAll(engine.OpenSnapshot("c2")), across.Ranges));

        // Backwards: the same chunks, never the journal's answer.
        var backwards = engine.ChangedBlocks("s2", "s1");
        Assert.Equal(Chunk, backwards.BlockSize);
        Assert.Equal([new ChunkRange(9 * Chunk, Chunk)], backwards.Ranges);
        Assert.Throws<SnapshotNotFoundException>(() => engine.ChangedBlocks("s1", "nope"));
    }

    [Fact]
    public void AVolumeThatChangedGroupBetweenTheSnapshotsIsTrackedPerChunk()
    {
        using var engine = Open();
        var volume = engine.CreateVolume("v", 8 * Chunk);
        engine.CreateSnapshot("v", "s1");
        Bytes.Write(volume, Block, Bytes.Pattern(Block, 1));
        engine.MoveVolume("v", "orders");
        Bytes.Write(volume, 3 * Chunk, Bytes.Pattern(Block, 2));
        engine.CreateSnapshot("v", "s2");

        var delta = engine.ChangedBlocks("s1", "s2");

        Assert.Equal(Chunk, delta.BlockSize);
        Assert.Contains("consistency group", delta.Why);
        Assert.Equal([new ChunkRange(0, Chunk), new ChunkRange(3 * Chunk, Chunk)], delta.Ranges);
    }

    [Fact]
    public void SnapshotsOfAVolumeCreatedAgainUnderItsIdShareNoHistory()
    {
        using var engine = Open();
        Bytes.Write(engine.CreateVolume("v", 4 * Chunk), Chunk, Bytes.Pattern(Block, 1));
        engine.CreateSnapshot("v", "s1");
        engine.DeleteVolume("v");
        Bytes.Write(engine.CreateVolume("v", 4 * Chunk), 3 * Chunk, Bytes.Pattern(Block, 2));
        engine.CreateSnapshot("v", "s2");

        var delta = engine.ChangedBlocks("s1", "s2");

        Assert.False(delta.SharesHistory);
        Assert.Equal([new ChunkRange(Chunk, Chunk), new ChunkRange(3 * Chunk, Chunk)], delta.Ranges);
    }

    /// <summary>At the backup site the writes arrive inside replica batches: two snapshots of a
    /// replica are as exact as two at the main site, which is what an off-site incremental needs.</summary>
    [Fact]
    public async Task BackupSiteSnapshotsAreTrackedPerBlockThroughReplicaBatches()
    {
        using var engine = Open();
        engine.CreateReplicaVolume("sales", 8 * Chunk, "orders");
        engine.CreateReplicaVolume("stock", 8 * Chunk, "orders");
        var group = engine.Group("orders");
        await engine.ApplyReplicaBatchAsync(group, new ReplicaBatch(0, 1, 1, [ReplicaUpdate.Write("sales", 0, Bytes.Pattern(8 * Chunk, 1))]));
        engine.CreateSnapshot("sales", "b1");
        await engine.ApplyReplicaBatchAsync(group, new ReplicaBatch(1, 3, 3,
        [
            ReplicaUpdate.Write("sales", 2 * Chunk + Block, Bytes.Pattern(Block, 2)),
            ReplicaUpdate.Write("stock", 0, Bytes.Pattern(Chunk, 3)),
            ReplicaUpdate.Write("sales", 6 * Chunk, Bytes.Pattern(2 * Block, 4)),
        ]));
        engine.CreateSnapshot("sales", "b2");

        var delta = engine.ChangedBlocks("b1", "b2");

        Assert.Equal(Block, delta.BlockSize);
        Assert.Equal([new ChunkRange(2 * Chunk + Block, Block), new ChunkRange(6 * Chunk, 2 * Block)], delta.Ranges);
    }

    /// <summary>Writes <paramref name="count"/> runs of 1 to 3 blocks at random block offsets; returns the blocks written.</summary>
    private static HashSet<long> WriteRandomBlocks(Volume volume, Random random, int count)
    {
        var blocks = new HashSet<long>();
        var total = volume.Size / Block;
        for (var i = 0; i < count; i++)
        {
            var first = random.NextInt64(total - 3);
            var length = 1 + random.Next(3);
            Bytes.Write(volume, first * Block, Bytes.Pattern(length * Block, random.Next()));
            blocks.UnionWith(Enumerable.Range(0, length).Select(b => first + b));
        }
        return blocks;
    }

    private static List<ChunkRange> Ranges(IEnumerable<long> units, int unit, long sizeBytes)
    {
        var ranges = new List<ChunkRange>();
        foreach (var index in units.Order())
        {
            if (ranges.Count > 0 && ranges[^1].End == index * unit)
            {
                ranges[^1] = ranges[^1] with { Length = ranges[^1].Length + unit };
            }
            else
            {
                ranges.Add(new ChunkRange(index * unit, Math.Min(unit, sizeBytes - index * unit)));
            }
        }
        return ranges;
    }
}
