using CsiDriver.Engine.Replication;

namespace CsiDriver.Engine.Tests.Replication;

public sealed class DirtyChunkSetTests
{
    [Fact]
    public void RoundTripsMergedRanges()
    {
        var set = new DirtyChunkSet();
        set.Add("a", 3, 5);
        set.Add("a", 6, 6);
        set.Add("a", 100, 100);
        set.Add("b", 0, 0);
        Assert.True(DirtyChunkSet.TryParse(set.Serialize(), out var parsed, out var error), error);
        Assert.Equal(
            [new ChunkRange(3L * ChunkRange.ChunkSize, 4L * ChunkRange.ChunkSize), new ChunkRange(100L * ChunkRange.ChunkSize, ChunkRange.ChunkSize)],
            parsed.Ranges("a", 1L << 30));
        Assert.Equal([new ChunkRange(0, 8192)], parsed.Ranges("b", 8192));
        Assert.Empty(parsed.Ranges("c", 1L << 30));
    }

    [Fact]
    public void RefusesTruncatedLeftoverAndNewerPayloads()
    {
        var set = new DirtyChunkSet();
        set.Add("volume", 1, 2);
        var bytes = set.Serialize();
        Assert.False(DirtyChunkSet.TryParse(bytes[..^3], out _, out _));
        Assert.False(DirtyChunkSet.TryParse([.. bytes, 0], out _, out _));
        var newer = (byte[])bytes.Clone();
        newer[2] = DirtyChunkSet.Version + 1;
        Assert.False(DirtyChunkSet.TryParse(newer, out _, out var error));
        Assert.Contains("version", error, StringComparison.Ordinal);
    }
}
