using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Replication;
using CsiDriver.Engine.Tests.Replication;

namespace CsiDriver.Engine.Tests;

/// <summary>
/// A structural change whose catalog write fails (the file system is full when the catalog is
/// written, after everything before it had room) leaves no trace: not in memory, not on disk
/// after a restart; the caller gets the engine's no-space error and the same call works once
/// there is room. Two changes stand instead, each for its reason: an expand (its journal record
/// grows the volume at replay and at the backup) and a volume made read-only (a fence).
/// Each case fills a small ext4 file system of its own.
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

    /// <summary>Snapshots retried while the disk stays full (as the snapshotter retries) leave at
    /// most one hidden layer over the last snapshot (the old code left one more per attempt, each
    /// one more step on every read that misses the top, their data held twice once rewritten); the
    /// snapshot that succeeds once there is room merges it away.</summary>
    [Fact]
    public async Task Snapshots_retried_on_a_full_disk_do_not_deepen_the_volume()
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        var data = Bytes.Pattern(Block, 1);
        using var engine = StorageEngine.Open(directory, Manual);
        LengthenCatalog(engine);
        var volume = engine.CreateVolume("a", 16 * MiB);
        engine.CreateSnapshot("a", "before");
        for (var attempt = 0; attempt < 5; attempt++)
        {
            Bytes.Write(volume, attempt * MiB, data, fua: true);
            engine.Checkpoint();
            RefusedForSpace(disk, () => engine.CreateSnapshot("a", "sa"), leaveRoom: true); // enough for a layer's files and a checkpoint, not for the catalog
        }
        Assert.True(Depth(volume) <= 3, $"the volume reads through {Depth(volume)} layers"); // top, a hidden one, "before"
        engine.CreateSnapshot("a", "sa");
        Assert.Equal(3, Depth(volume)); // top, "sa", "before"
        for (var attempt = 0; attempt < 5; attempt++)
        {
            Assert.Equal(data, Bytes.Read(engine.OpenSnapshot("sa"), attempt * MiB, Block));
        }
    }

    private static int Depth(Volume volume)
    {
        var depth = 0;
        for (var layer = volume.Top; layer != null; layer = layer.Parent)
        {
            depth++;
        }
        return depth;
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
            LengthenCatalog(engine); // "kept", with 100 snapshots
            engine.Checkpoint(); // writes the chunk maps, so what follows adds only the new volume's files
            before = Files(directory);
            Bytes.Write(engine.CreateVolume("doomed", 16 * MiB), 0, Bytes.Pattern(Block, 2), fua: true);
            engine.Checkpoint();
            doomedFiles = Files(directory).Except(before).ToArray();
            Assert.Contains(doomedFiles, f => f.StartsWith("layers/", StringComparison.Ordinal));
            Assert.Contains(doomedFiles, f => f.StartsWith("journals/", StringComparison.Ordinal));

            RefusedForSpace(disk, () => engine.DeleteVolume("doomed"), leaveRoom: true); // enough for the checkpoint, not for the catalog
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

    /// <summary>A move whose catalog write fails (the chunk maps it writes first had room) is taken
    /// back: the volume stays in its group of one, and the writes after it land where the catalog
    /// on disk looks for them (the old code left it in the new group's journal, which no catalog
    /// named, and a restart lost them). The retry once there is room moves it.</summary>
    [Fact]
    public async Task A_move_whose_catalog_write_fails_leaves_the_volume_where_it_was()
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        var (first, later) = (Bytes.Pattern(Block, 1), Bytes.Pattern(Block, 2));
        using (var engine = StorageEngine.Open(directory, Manual))
        {
            LengthenCatalog(engine);
            engine.CreateVolume("member", 16 * MiB, "g");
            Bytes.Write(engine.CreateVolume("a", 16 * MiB), 0, first, fua: true);
            engine.Checkpoint();
            RefusedForSpace(disk, () => engine.MoveVolume("a", "g"), leaveRoom: true); // enough for the chunk map, not for the catalog
            Assert.Null(engine.GetVolume("a").ConsistencyGroup);
            Assert.Equal(["member"], engine.Group("g").Members.Select(v => v.Id));
            Bytes.Write(engine.GetVolume("a"), 8 * MiB, later, fua: true); // a chunk no map on disk holds yet
            engine.CloseWithoutCheckpoint(); // a crash
        }
        using (var engine = StorageEngine.Open(directory, Manual))
        {
            Assert.Null(engine.GetVolume("a").ConsistencyGroup);
            Assert.Equal(later, Bytes.Read(engine.GetVolume("a"), 8 * MiB, Block));
            engine.MoveVolume("a", "g"); // the retry, with room
            Assert.Equal("g", engine.GetVolume("a").ConsistencyGroup);
            engine.CloseWithoutCheckpoint();
        }
        using var reopened = StorageEngine.Open(directory, Manual);
        Assert.Equal("g", reopened.GetVolume("a").ConsistencyGroup);
        Assert.Equal(later, Bytes.Read(reopened.GetVolume("a"), 8 * MiB, Block));
    }

    /// <summary>Making a volume writable again is taken back when its catalog write fails (the
    /// old code left it writable, the caller told it failed); making one read-only holds all the
    /// same (a fence must not let writes through for want of space). Either retry completes.</summary>
    [Fact]
    public async Task A_read_only_change_whose_catalog_write_fails_leaves_the_volume_refusing_writes()
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        var data = Bytes.Pattern(Block, 1);
        using (var engine = StorageEngine.Open(directory, Manual))
        {
            var volume = engine.CreateVolume("a", 16 * MiB);
            engine.SetVolumeReadOnly("a", true, "fenced");
            engine.Checkpoint();
            RefusedForSpace(disk, () => engine.SetVolumeReadOnly("a", false));
            Assert.True(volume.IsReadOnly);
            Assert.Equal("fenced", volume.ReadOnlyReason);
            Assert.Throws<ReadOnlyVolumeException>(() => Bytes.Write(volume, 0, data, fua: true));
            engine.SetVolumeReadOnly("a", false);
            Bytes.Write(volume, 0, data, fua: true);
            engine.Checkpoint();
            RefusedForSpace(disk, () => engine.SetVolumeReadOnly("a", true, "fenced again"));
            Assert.Throws<ReadOnlyVolumeException>(() => Bytes.Write(volume, 0, data, fua: true));
            engine.SetVolumeReadOnly("a", true, "fenced again");
        }
        using var reopened = StorageEngine.Open(directory, Manual);
        Assert.True(reopened.GetVolume("a").IsReadOnly);
        Assert.Equal(data, Bytes.Read(reopened.GetVolume("a"), 0, Block));
    }

    /// <summary>An expand whose catalog write fails cannot be taken back (its journal record grows
    /// the volume at replay and at the backup), so it stands; the same call once there is room
    /// makes the owed save, without a second record.</summary>
    [Fact]
    public async Task An_expand_whose_catalog_write_fails_stands_and_its_retry_saves_it()
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        var tail = Bytes.Pattern(Block, 1);
        using (var engine = StorageEngine.Open(directory, Manual))
        {
            var volume = engine.CreateVolume("a", 16 * MiB);
            engine.Checkpoint();
            RefusedForSpace(disk, () => engine.ExpandVolume("a", 32 * MiB));
            Assert.Equal(32 * MiB, volume.Size);
            Bytes.Write(volume, 24 * MiB, tail, fua: true);
            var records = engine.GetJournalStatus(volume.Group).LastSequence;
            engine.ExpandVolume("a", 32 * MiB); // the retry
            Assert.Equal(records, engine.GetJournalStatus(volume.Group).LastSequence);
            engine.CloseWithoutCheckpoint();
        }
        using var reopened = StorageEngine.Open(directory, Manual);
        Assert.Equal(32 * MiB, reopened.GetVolume("a").Size);
        Assert.Equal(tail, Bytes.Read(reopened.GetVolume("a"), 24 * MiB, Block));
    }

    /// <summary>A replica batch growing a volume whose catalog write fails stands, as an expand
    /// does: its record is durable before the new size is applied, so it is the change (replay
    /// grows the replica by it), and taking it back would have the same batch, sent again,
    /// journaled a second time. Sent again it is the duplicate it is; the position holds it.</summary>
    [Fact]
    public async Task A_replica_batch_growing_a_volume_whose_catalog_write_fails_stands()
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        var batch = new ReplicaBatch(0, 2, 5, [new ReplicaUpdate("stock", JournalRecordKind.Resize, 0, 32 * MiB, default)]);
        using (var engine = StorageEngine.Open(directory, Manual))
        {
            var volume = engine.CreateReplicaVolume("stock", 16 * MiB, "orders");
            engine.Checkpoint();
            RefusedForSpace(disk, () => engine.ApplyReplicaBatchAsync(volume.Group, batch).AsTask().GetAwaiter().GetResult());
            Assert.Equal(32 * MiB, volume.Size);
            Assert.Equal(2, engine.GetReplicaPosition(volume.Group).SourceSequence);
            var records = engine.GetJournalStatus(volume.Group).LastSequence;
            Assert.Equal(2, (await engine.ApplyReplicaBatchAsync(volume.Group, batch)).SourceSequence); // sent again
            Assert.Equal(records, engine.GetJournalStatus(volume.Group).LastSequence);
            engine.CloseWithoutCheckpoint();
        }
        using var reopened = StorageEngine.Open(directory, Manual);
        Assert.Equal(32 * MiB, reopened.GetVolume("stock").Size);
        Assert.Equal(2, reopened.GetReplicaPosition(reopened.GetVolume("stock").Group).SourceSequence);
    }

    /// <summary>An aborted resync whose catalog write fails (its checkpoint had room) leaves the
    /// replicas as the resync wrote them, still resyncing (the old code had them read the
    /// protected image already, their old tops out of every chain but still named on disk);
    /// the retry once there is room aborts it.</summary>
    [Fact]
    public async Task An_aborted_resync_whose_catalog_write_fails_is_still_resyncing()
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        using var engine = StorageEngine.Open(directory, Manual);
        LengthenCatalog(engine);
        string[] ids = ["sales", "stock"];
        var model = new ReplicaModel(5, ids);
        foreach (var id in ids)
        {
            engine.CreateReplicaVolume(id, ReplicaModel.Size, "orders");
        }
        var group = engine.Group("orders");
        await engine.ApplyReplicaBatchAsync(group, model.NextBatch());
        engine.BeginReplicaResync(group);
        var resynced = ids.ToDictionary(id => id, id => Bytes.Pattern(ReplicaModel.Size, id.Length));
        await engine.WriteReplicaChunksAsync(group, ids.Select(id => ReplicaUpdate.Write(id, 0, resynced[id])).ToList());
        engine.Checkpoint();
        engine.Checkpoint(); // the second frees the journal the resync wrote, so the abort's own checkpoint frees nothing
        var layers = Directory.GetFiles(Path.Combine(directory, "layers"));
        RefusedForSpace(disk, () => engine.AbortReplicaResync(group), leaveRoom: true); // enough for the checkpoint, not for the catalog
        Assert.True(engine.GetReplicaPosition(group).Resyncing);
        ReplicaModel.AssertSameContent(resynced, ReplicaModel.Read(engine, ids));
        Assert.Equal(layers, Directory.GetFiles(Path.Combine(directory, "layers")));
        engine.AbortReplicaResync(group); // the retry
        Assert.False(engine.GetReplicaPosition(group).Resyncing);
        ReplicaModel.AssertSameContent(model.Volumes, ReplicaModel.Read(engine, ids));
    }

    /// <summary>Snapshots with long names make the catalog several blocks long, so a few free
    /// blocks (<see cref="LeaveRoom"/>) hold a chunk map or a checkpoint but not the catalog.</summary>
    private static void LengthenCatalog(StorageEngine engine)
    {
        Bytes.Write(engine.CreateVolume("kept", 16 * MiB), 0, Bytes.Pattern(Block, 1), fua: true);
        for (var i = 0; i < 100; i++)
        {
            engine.CreateSnapshot("kept", $"kept-{i:D3}-{new string('s', 100)}");
        }
    }

    /// <summary>Checks that <paramref name="call"/> fails for want of space on a full disk (with
    /// <paramref name="leaveRoom"/>, one full but for a few blocks), then gives the space back.</summary>
    private static void RefusedForSpace(LoopFileSystem disk, Action call, bool leaveRoom = false)
    {
        if (leaveRoom)
        {
            LeaveRoom(disk);
        }
        else
        {
            disk.Fill();
        }
        try
        {
            Assert.Throws<InsufficientSpaceException>(call);
        }
        finally
        {
            disk.Release();
        }
    }

    /// <summary>Fills the disk but for a few blocks (3 of 4 KiB).</summary>
    private static void LeaveRoom(LoopFileSystem disk)
    {
        var existing = Directory.GetFiles(disk.Path, "filler-*");
        disk.Consume(12 << 10);
        var room = Directory.GetFiles(disk.Path, "filler-*").Except(existing).Single();
        disk.Fill();
        File.Delete(room);
        disk.Settle();
    }

    /// <summary>The engine's layer files and journal directories, relative to its directory.</summary>
    private static string[] Files(string directory) =>
        Directory.EnumerateFileSystemEntries(Path.Combine(directory, "layers"))
            .Concat(Directory.EnumerateDirectories(Path.Combine(directory, "journals")))
            .Select(path => Path.GetRelativePath(directory, path))
            .ToArray();
}
