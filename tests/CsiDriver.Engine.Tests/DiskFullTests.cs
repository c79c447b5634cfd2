using CsiDriver.ConformanceTests.Faults;
using CsiDriver.Engine.Nbd;
using CsiDriver.Engine.Tests.Nbd;
using Xunit.Abstractions;

namespace CsiDriver.Engine.Tests;

/// <summary>
/// Disk-full at the steps <see cref="JournalSpaceTests"/> does not cover (issue 14, the standing
/// fault suite): a write whose data file must grow, a snapshot, a checkpoint. Each step runs on a
/// small ext4 file system of its own that the test fills, and checks what a user expects: a clear
/// error (ENOSPC at NBD; <see cref="InsufficientSpaceException"/>, which CSI answers as
/// RESOURCE_EXHAUSTED), nothing acknowledged lost, reads served meanwhile, the same call working
/// once space is freed, and a restart (after a crash too) finding everything. Reported as one
/// fault-suite probe, with a delete on the full disk, which must refuse whole or succeed.
/// </summary>
public sealed class DiskFullTests(ITestOutputHelper output)
{
    private const int MiB = 1 << 20;
    private const int Block = 16 << 10;

    /// <summary>A small overlay, so a few writes the data files cannot take fill it.</summary>
    private static readonly EngineOptions Small = new() { BackgroundCheckpoints = false, OverlayBytes = 256 << 10 };

    [Fact]
    public async Task Disk_full_at_every_step_is_a_clear_error_and_loses_nothing()
    {
        var figures = new FaultFigures("disk full (write, snapshot, checkpoint, delete)");
        await StepAsync(figures, "write over NBD", WriteOverNbdAsync);
        await StepAsync(figures, "write, crash, restart", WriteCrashRestartAsync);
        await StepAsync(figures, "snapshot", SnapshotAsync);
        await StepAsync(figures, "checkpoint", CheckpointAsync);
        await StepAsync(figures, "delete", DeleteAsync);
        figures.Report(output);
    }

    /// <summary>Writes into new chunks on a full disk are journaled and acknowledged while the
    /// overlay has room (reads see them), then refused with ENOSPC; a FLUSH still succeeds (the
    /// journal had room); once space is freed the next write applies everything.</summary>
    private static async Task WriteOverNbdAsync(FaultFigures figures)
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        await using var env = await NbdTestEnvironment.StartAsync([("vol", 16 * MiB)], engineOptions: Small, under: disk.Path);
        await using var client = await RawNbdClient.OpenAsync(env.SocketPath, "vol");
        Assert.Equal(NbdError.None, await client.WriteAsync(0, Bytes.Pattern(Block, 0), NbdCommandFlags.Fua));
        disk.Fill();
        var acknowledged = new List<(ulong Offset, byte[] Data)>();
        var error = NbdError.None;
        try
        {
            for (var i = 1; i < 128 && error == NbdError.None; i++)
            {
                var (offset, data) = ((ulong)i * ChunkRange.ChunkSize, Bytes.Pattern(Block, i));
                error = await client.WriteAsync(offset, data);
                if (error == NbdError.None)
                {
                    acknowledged.Add((offset, data));
                }
            }
            Assert.Equal(NbdError.NoSpace, error);
            Assert.NotEmpty(acknowledged);
            Assert.Equal(NbdError.None, await client.FlushAsync());
            await AssertReadsAsync(client, acknowledged);
        }
        finally
        {
            disk.Release();
        }
        figures.Count("writes acknowledged on a full disk", acknowledged.Count);
        figures.Count("ENOSPC answers", 1);
        var after = Bytes.Pattern(Block, 999);
        Assert.Equal(NbdError.None, await client.WriteAsync(200UL * ChunkRange.ChunkSize, after, NbdCommandFlags.Fua));
        acknowledged.Add((200UL * ChunkRange.ChunkSize, after));
        await AssertReadsAsync(client, acknowledged);
    }

    /// <summary>Writes acknowledged on a full disk (durable in the journal, not in the data
    /// files) survive a crash: replaying them needs space, so a start on the still-full disk is
    /// refused saying so, and the start once space is freed replays them.</summary>
    private static async Task WriteCrashRestartAsync(FaultFigures figures)
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        var acknowledged = new List<(long Offset, byte[] Data)>();
        var engine = StorageEngine.Open(directory, Small);
        var volume = engine.CreateVolume("v", 16 * MiB);
        Bytes.Write(volume, 0, Bytes.Pattern(Block, 0), fua: true);
        disk.Fill();
        try
        {
            var refused = Assert.Throws<InsufficientSpaceException>(() =>
            {
                for (var i = 1; i < 128; i++)
                {
                    var (offset, data) = (i * (long)ChunkRange.ChunkSize, Bytes.Pattern(Block, i));
                    Bytes.Write(volume, offset, data);
                    acknowledged.Add((offset, data));
                }
            });
            Assert.Contains("no space", refused.Message);
            volume.FlushAsync().AsTask().GetAwaiter().GetResult();
            AssertReads(volume, acknowledged);
            engine.CloseWithoutCheckpoint(); // a crash: they are only in the journal
            var notYet = Assert.Throws<InsufficientSpaceException>(() => StorageEngine.Open(directory, Small));
            Assert.Contains("free space and start again", notYet.Message);
        }
        finally
        {
            disk.Release();
        }
        figures.Count("writes acknowledged on a full disk", acknowledged.Count);
        using var reopened = StorageEngine.Open(directory, Small);
        Assert.True(reopened.Recovery.Sum(r => r.ReplayedRecords) >= acknowledged.Count);
        AssertReads(reopened.GetVolume("v"), acknowledged);
    }

    /// <summary>A snapshot on a full disk is refused and leaves nothing behind, also when writes
    /// are still waiting for space; the same call works once there is space, and the snapshot
    /// holds them and outlives a restart.</summary>
    private static async Task SnapshotAsync(FaultFigures figures)
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        var (before, pending) = (Bytes.Pattern(Block, 1), Bytes.Pattern(Block, 2));
        using (var engine = StorageEngine.Open(directory, Small))
        {
            var volume = engine.CreateVolume("v", 16 * MiB);
            Bytes.Write(volume, 0, before, fua: true);
            disk.Fill();
            try
            {
                Bytes.Write(volume, ChunkRange.ChunkSize, pending, fua: true); // durable; its chunk finds no space
                Assert.Throws<InsufficientSpaceException>(() => engine.CreateSnapshot("v", "snap"));
                Assert.Empty(engine.Snapshots);
                Assert.Equal(pending, Bytes.Read(volume, ChunkRange.ChunkSize, Block));
                Assert.Equal(before, Bytes.Read(volume, 0, Block));
            }
            finally
            {
                disk.Release();
            }
            figures.Count("snapshots refused", 1);
            engine.CreateSnapshot("v", "snap");
            Bytes.Write(volume, 0, Bytes.Pattern(Block, 3), fua: true); // after the snapshot: not in it
        }
        using var reopened = StorageEngine.Open(directory, Small);
        var snapshot = reopened.OpenSnapshot("snap");
        Assert.Equal(before, Bytes.Read(snapshot, 0, Block));
        Assert.Equal(pending, Bytes.Read(snapshot, ChunkRange.ChunkSize, Block));
        Assert.Equal(Bytes.Pattern(Block, 3), Bytes.Read(reopened.GetVolume("v"), 0, Block));
    }

    /// <summary>A checkpoint on a full disk is refused and the previous one stands: writes go on
    /// (overwrites need no space), a crash then recovers from the journals even with the disk
    /// still full, and once space is freed the checkpoint covers everything.</summary>
    private static async Task CheckpointAsync(FaultFigures figures)
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        var data = Enumerable.Range(0, 8).Select(i => Bytes.Pattern(ChunkRange.ChunkSize, i)).ToArray();
        var engine = StorageEngine.Open(directory, Small);
        var volume = engine.CreateVolume("v", 16 * MiB);
        for (var i = 0; i < data.Length; i++)
        {
            Bytes.Write(volume, i * (long)ChunkRange.ChunkSize, data[i], fua: true);
        }
        disk.Fill();
        try
        {
            Assert.Throws<InsufficientSpaceException>(engine.Checkpoint);
            figures.Count("checkpoints refused", 1);
            data[3] = Bytes.Pattern(ChunkRange.ChunkSize, 33);
            Bytes.Write(volume, 3L * ChunkRange.ChunkSize, data[3], fua: true);
            AssertReads(volume, data);
            engine.CloseWithoutCheckpoint();
            using var full = StorageEngine.Open(directory, Small);
            AssertReads(full.GetVolume("v"), data);
        }
        finally
        {
            disk.Release();
        }
        using (var again = StorageEngine.Open(directory, Small))
        {
            again.Checkpoint();
            again.CloseWithoutCheckpoint();
        }
        using var reopened = StorageEngine.Open(directory, Small);
        Assert.Equal(0, reopened.Recovery.Sum(r => r.ReplayedRecords));
        AssertReads(reopened.GetVolume("v"), data);
    }

    /// <summary>A delete on a full disk (its checkpoint needs a few blocks) is refused whole: the
    /// volume is still there with every acknowledged write, also one still waiting for space; once
    /// space is freed the same call deletes it and the other volumes keep their data.</summary>
    private static async Task DeleteAsync(FaultFigures figures)
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        var (kept, written, waiting) = (Bytes.Pattern(Block, 1), Bytes.Pattern(Block, 2), Bytes.Pattern(Block, 3));
        using (var engine = StorageEngine.Open(directory, Small))
        {
            Bytes.Write(engine.CreateVolume("kept", 16 * MiB), 0, kept, fua: true);
            var doomed = engine.CreateVolume("doomed", 16 * MiB);
            Bytes.Write(doomed, 0, written, fua: true);
            disk.Fill();
            try
            {
                Bytes.Write(doomed, 8 * MiB, waiting, fua: true);
                Assert.Throws<InsufficientSpaceException>(() => engine.DeleteVolume("doomed"));
                figures.Count("deletes refused", 1);
                Assert.Equal(written, Bytes.Read(engine.GetVolume("doomed"), 0, Block));
                Assert.Equal(waiting, Bytes.Read(engine.GetVolume("doomed"), 8 * MiB, Block));
                Bytes.Write(doomed, 0, written, fua: true); // still a live volume
            }
            finally
            {
                disk.Release();
            }
            Assert.True(engine.DeleteVolume("doomed"));
        }
        using var reopened = StorageEngine.Open(directory, Small);
        Assert.Equal(["kept"], reopened.Volumes.Select(v => v.Id));
        Assert.Equal(kept, Bytes.Read(reopened.GetVolume("kept"), 0, Block));
    }

    private static async Task StepAsync(FaultFigures figures, string step, Func<FaultFigures, Task> run)
    {
        try
        {
            await run(figures);
            figures.Case();
        }
        catch (Exception e)
        {
            figures.Case($"{step}: {e.GetType().Name}: {e.Message}");
        }
    }

    private static void AssertReads(IBlockDevice device, IReadOnlyList<byte[]> chunks)
    {
        for (var i = 0; i < chunks.Count; i++)
        {
            Assert.Equal(chunks[i], Bytes.Read(device, i * (long)ChunkRange.ChunkSize, chunks[i].Length));
        }
    }

    private static void AssertReads(IBlockDevice device, IEnumerable<(long Offset, byte[] Data)> writes)
    {
        foreach (var (offset, data) in writes)
        {
            Assert.Equal(data, Bytes.Read(device, offset, data.Length));
        }
    }

    private static async Task AssertReadsAsync(RawNbdClient client, IEnumerable<(ulong Offset, byte[] Data)> writes)
    {
        foreach (var (offset, data) in writes)
        {
            var (error, read) = await client.ReadAsync(offset, (uint)data.Length);
            Assert.Equal(NbdError.None, error);
            Assert.Equal(data, read);
        }
    }
}
