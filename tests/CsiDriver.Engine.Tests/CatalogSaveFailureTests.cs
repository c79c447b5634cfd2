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

    /// <summary>A delete whose catalog write fails (its checkpoint found the few blocks it
    /// needs, the much larger catalog did not) is refused; the volume is gone from use, and the
    /// retry once there is room completes it: no catalog entry, no layer file, no journal left.</summary>
    [Fact]
    public async Task A_delete_whose_catalog_write_fails_is_completed_by_its_retry()
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        var kept = Bytes.Pattern(Block, 1);
        string[] before, doomedFiles;
        using (var engine = StorageEngine.Open(directory, Manual))
        {
            Bytes.Write(engine.CreateVolume("kept", 16 * MiB), 0, kept, fua: true);
            // Snapshots with long names make the catalog several blocks long.
            for (var i = 0; i < 100; i++)
            {
                engine.CreateSnapshot("kept", $"kept-{i:D3}-{new string('s', 100)}");
            }
            engine.Checkpoint(); // writes the chunk maps, so what follows adds only the new volume's files
            before = Files(directory);
            Bytes.Write(engine.CreateVolume("doomed", 16 * MiB), 0, Bytes.Pattern(Block, 2), fua: true);
            engine.Checkpoint();
            doomedFiles = Files(directory).Except(before).ToArray();
            Assert.Contains(doomedFiles, f => f.StartsWith("layers/", StringComparison.Ordinal));
            Assert.Contains(doomedFiles, f => f.StartsWith("journals/", StringComparison.Ordinal));

            var existing = Directory.GetFiles(disk.Path, "filler-*");
            disk.Consume(12 << 10);
            var room = Directory.GetFiles(disk.Path, "filler-*").Except(existing).Single();
            disk.Fill();
            File.Delete(room); // a few blocks: enough for the checkpoint, not for the catalog
            disk.Settle();
            try
            {
                Assert.Throws<InsufficientSpaceException>(() => engine.DeleteVolume("doomed"));
            }
            finally
            {
                disk.Release();
            }
            engine.DeleteVolume("doomed"); // the retry
            Assert.Null(engine.FindVolume("doomed"));
            Assert.Empty(Files(directory).Intersect(doomedFiles));
            Assert.Equal(kept, Bytes.Read(engine.GetVolume("kept"), 0, Block));
        }
        using var reopened = StorageEngine.Open(directory, Manual);
        Assert.Equal(["kept"], reopened.Volumes.Select(v => v.Id));
        Assert.Equal(100, reopened.Snapshots.Count);
        Assert.Equal(kept, Bytes.Read(reopened.GetVolume("kept"), 0, Block));
    }

    /// <summary>The engine's layer files and journal directories, relative to its directory.</summary>
    private static string[] Files(string directory) =>
        Directory.EnumerateFileSystemEntries(Path.Combine(directory, "layers"))
            .Concat(Directory.EnumerateDirectories(Path.Combine(directory, "journals")))
            .Select(path => Path.GetRelativePath(directory, path))
            .ToArray();
}
