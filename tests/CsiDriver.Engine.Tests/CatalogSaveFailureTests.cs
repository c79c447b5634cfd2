namespace CsiDriver.Engine.Tests;

/// <summary>
/// A structural change whose catalog write fails (the file system is full when the catalog is
/// written, after everything before it had room) leaves no trace: not in memory, not on disk
/// after a restart; the caller gets the engine's no-space error and the same call works once
/// there is room. Each case fills a small ext4 file system of its own.
/// </summary>
public sealed class CatalogSaveFailureTests
{
    private const int MiB = 1 << 20;
    private const int Block = 16 << 10;
    private static readonly EngineOptions Manual = new() { BackgroundCheckpoints = false };

    [Fact]
    public async Task A_group_snapshot_whose_catalog_write_fails_is_not_created()
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        var (first, second, later) = (Bytes.Pattern(Block, 1), Bytes.Pattern(Block, 2), Bytes.Pattern(Block, 3));
        using (var engine = StorageEngine.Open(directory, Manual))
        {
            Bytes.Write(engine.CreateVolume("a", 16 * MiB, "g"), 0, first, fua: true);
            Bytes.Write(engine.CreateVolume("b", 16 * MiB, "g"), 0, second, fua: true);
            engine.Checkpoint();
            disk.Fill();
            try
            {
                Assert.Throws<InsufficientSpaceException>(() => engine.CreateGroupSnapshot([("a", "sa"), ("b", "sb")]));
                Assert.Empty(engine.Snapshots);
                Assert.Null(engine.FindSnapshot("sa"));
                Assert.Throws<SnapshotNotFoundException>(() => engine.OpenSnapshot("sb"));
                // The volumes go on as before.
                Bytes.Write(engine.GetVolume("a"), 0, later, fua: true);
                Assert.Equal(later, Bytes.Read(engine.GetVolume("a"), 0, Block));
                Assert.Equal(second, Bytes.Read(engine.GetVolume("b"), 0, Block));
            }
            finally
            {
                disk.Release();
            }
            // The same call works once there is room, and holds what the volumes hold then.
            engine.CreateGroupSnapshot([("a", "sa"), ("b", "sb")]);
            Assert.Equal(later, Bytes.Read(engine.OpenSnapshot("sa"), 0, Block));
            engine.DeleteSnapshot("sa");
            engine.DeleteSnapshot("sb");
        }
        using var reopened = StorageEngine.Open(directory, Manual);
        Assert.Empty(reopened.Snapshots);
        Assert.Equal(later, Bytes.Read(reopened.GetVolume("a"), 0, Block));
        Assert.Equal(second, Bytes.Read(reopened.GetVolume("b"), 0, Block));
    }

    [Fact]
    public async Task A_snapshot_whose_catalog_write_fails_is_not_there_after_a_crash()
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        var (first, later) = (Bytes.Pattern(Block, 1), Bytes.Pattern(Block, 3));
        var engine = StorageEngine.Open(directory, Manual);
        Bytes.Write(engine.CreateVolume("a", 16 * MiB), 0, first, fua: true);
        engine.Checkpoint();
        disk.Fill();
        try
        {
            Assert.Throws<InsufficientSpaceException>(() => engine.CreateSnapshot("a", "sa"));
            Assert.Null(engine.FindSnapshot("sa"));
            Bytes.Write(engine.GetVolume("a"), 0, later, fua: true);
        }
        finally
        {
            disk.Release();
        }
        // A checkpoint now must not cover data the catalog on disk does not place.
        engine.Checkpoint();
        engine.CloseWithoutCheckpoint();
        using var reopened = StorageEngine.Open(directory, Manual);
        Assert.Empty(reopened.Snapshots);
        Assert.Equal(later, Bytes.Read(reopened.GetVolume("a"), 0, Block));
    }
}
