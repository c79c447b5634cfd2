using CsiDriver.Engine.Nbd;
using CsiDriver.Engine.Tests.Nbd;

namespace CsiDriver.Engine.Tests;

/// <summary>
/// The journals on a disk that fills (issue 14, defect 2), each case on a small ext4 file system
/// of its own: the engine opens with no free space at all, small volumes cost little journal
/// space (also across restarts), the capacity it reports leaves every journal room to roll, and
/// a roll that finds no space reaches an NBD client as ENOSPC.
/// </summary>
public sealed class JournalSpaceTests
{
    private const int MiB = 1 << 20;
    private const long FillerMetadataBytes = 64 << 10;
    private static readonly EngineOptions Manual = new() { BackgroundCheckpoints = false };

    [Fact]
    public async Task An_engine_recovers_with_no_free_space_and_reports_none_available()
    {
        using var disk = await LoopFileSystem.CreateAsync(128L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        var data = Bytes.Pattern(256 << 10, 7);
        var engine = StorageEngine.Open(directory, Manual);
        Bytes.Write(engine.CreateVolume("v", 4 * MiB), 64 << 10, data, fua: true);
        engine.CloseWithoutCheckpoint(); // a crash: the write is only in the journal
        disk.Fill();
        Assert.Equal(0, disk.FreeBytes);

        using (var full = StorageEngine.Open(directory, Manual))
        {
            Assert.Equal(1, full.Recovery.Sum(r => r.ReplayedRecords));
            Assert.Equal(data, Bytes.Read(full.GetVolume("v"), 64 << 10, data.Length));
            Assert.Equal(0, full.AvailableBytes);
        }

        disk.Release();
        using var again = StorageEngine.Open(directory, Manual);
        Assert.Equal(data, Bytes.Read(again.GetVolume("v"), 64 << 10, data.Length));
        Assert.True(again.AvailableBytes > 0);
    }

    /// <summary>Released segments kept for reuse (spares) hold disk space; an engine opening on a
    /// full disk deletes them, and what was written is all there.</summary>
    [Fact]
    public async Task Spares_give_their_space_back_when_the_engine_opens_on_a_full_disk()
    {
        using var disk = await LoopFileSystem.CreateAsync(128L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        var options = Manual with { SegmentBytes = MiB };
        var after = Bytes.Pattern(256 << 10, 12);
        var engine = StorageEngine.Open(directory, options);
        WriteRange(engine.CreateVolume("v", 8 * MiB), 4 * MiB, seed: 11);
        engine.Checkpoint(); // releases the segments the writes filled: they become spares
        Bytes.Write(engine.GetVolume("v"), 4 * MiB, after, fua: true); // only in the journal
        engine.CloseWithoutCheckpoint();
        string[] Spares() => Directory.GetFiles(Path.Combine(directory, "journals"), "*.spare", SearchOption.AllDirectories);
        Assert.NotEmpty(Spares());
        disk.Fill();

        using (var full = StorageEngine.Open(directory, options))
        {
            Assert.Empty(Spares());
            Assert.True(disk.FreeBytes > 0, "the spares' space is free again");
            Assert.Equal(Bytes.Pattern(64 << 10, 11 + 3 * MiB), Bytes.Read(full.GetVolume("v"), 3 * MiB, 64 << 10));
            Assert.Equal(after, Bytes.Read(full.GetVolume("v"), 4 * MiB, after.Length));
        }
        disk.Release();
    }

    [Fact]
    public async Task Small_volumes_cost_little_journal_space_even_across_restarts()
    {
        const int Volumes = 37;
        using var disk = await LoopFileSystem.CreateAsync(256L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        var before = disk.UsedBytes;
        using (var engine = StorageEngine.Open(directory, Manual))
        {
            for (var i = 0; i < Volumes; i++)
            {
                Bytes.Write(engine.CreateVolume($"small-{i}", 4 * MiB), 0, Bytes.Pattern(64 << 10, i), fua: true);
            }
        }
        var created = disk.UsedBytes - before;
        // 64 KiB of data each, the journals' reservations and the metadata: well under 2 MiB a volume.
        Assert.True(created < Volumes * 2L * MiB, $"{Volumes} small volumes took {created >> 20} MiB");

        for (var restart = 0; restart < 3; restart++)
        {
            using var engine = StorageEngine.Open(directory, Manual);
            Assert.Equal(Volumes, engine.Volumes.Count);
        }
        var restarted = disk.UsedBytes - before;
        Assert.True(restarted - created < 4L * MiB, $"three restarts took {(restarted - created) >> 20} MiB more");
    }

    [Fact]
    public async Task The_capacity_reported_leaves_every_journal_room_to_roll()
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var options = Manual with { SegmentBytes = MiB };
        using var engine = StorageEngine.Open(Path.Combine(disk.Path, "engine"), options);
        var volumes = Enumerable.Range(0, 3).Select(i => engine.CreateVolume($"busy-{i}", 4 * MiB)).ToList();
        foreach (var volume in volumes)
        {
            WriteRange(volume, 4 * MiB, seed: 1);
        }
        engine.Checkpoint(); // the journals keep only their active segments
        disk.Settle();

        // Someone takes all the capacity reported, less what a file of that size needs for its
        // own extent blocks (a few KiB; a journal's room to roll is a megabyte or more).
        disk.Consume(engine.AvailableBytes - FillerMetadataBytes);

        // Every journal fills its segment and starts the next one: overwrites need no new data blocks.
        foreach (var volume in volumes)
        {
            WriteRange(volume, MiB + MiB / 4, seed: 2);
            await volume.FlushAsync();
        }
    }

    [Fact]
    public async Task A_roll_that_finds_no_space_is_enospc_to_an_nbd_client()
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var options = Manual with { SegmentBytes = MiB };
        await using (var env = await NbdTestEnvironment.StartAsync([("vol", 4 * MiB)], engineOptions: options, under: disk.Path))
        {
            await using var client = await RawNbdClient.OpenAsync(env.SocketPath, "vol");
            var block = NbdTestEnvironment.RandomBytes(256 << 10, seed: 3);
            for (ulong offset = 0; offset < 2 * MiB; offset += (ulong)block.Length)
            {
                Assert.Equal(NbdError.None, await client.WriteAsync(offset, block, NbdCommandFlags.Fua));
            }
            disk.Fill();
            var error = NbdError.None;
            try
            {
                // Overwrites need no data blocks; the journal runs out when it must start a segment.
                for (var i = 0; i < 64 && error == NbdError.None; i++)
                {
                    error = await client.WriteAsync((ulong)(i % 8) * (ulong)block.Length, block);
                }
            }
            finally
            {
                disk.Release();
            }
            Assert.Equal(NbdError.NoSpace, error);
            Assert.Equal(NbdError.None, await client.WriteAsync(0, block, NbdCommandFlags.Fua));
        }
    }

    [Fact]
    public async Task A_create_on_a_full_disk_is_refused_as_insufficient_space_and_leaves_nothing_behind()
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        using (var engine = StorageEngine.Open(directory, Manual))
        {
            engine.CreateVolume("first", 4 * MiB, "orders");
            disk.Fill();
            try
            {
                Assert.Throws<InsufficientSpaceException>(() => engine.CreateVolume("alone", 4 * MiB));
                Assert.Throws<InsufficientSpaceException>(() => engine.CreateVolume("second", 4 * MiB, "orders"));
                Assert.Throws<InsufficientSpaceException>(() => engine.CreateVolume("elsewhere", 4 * MiB, "stock"));
                Assert.Equal(["first"], engine.Volumes.Select(v => v.Id));
                Assert.Equal(["orders"], engine.Groups.Select(g => g.Name));
            }
            finally
            {
                disk.Release();
            }
            engine.CreateVolume("second", 4 * MiB, "orders"); // the same call, once there is space
        }
        using var reopened = StorageEngine.Open(directory, Manual);
        Assert.Equal(["first", "second"], reopened.Volumes.Select(v => v.Id).Order(StringComparer.Ordinal));
    }

    private static void WriteRange(Volume volume, int length, int seed)
    {
        for (var offset = 0; offset < length; offset += 64 << 10)
        {
            Bytes.Write(volume, offset, Bytes.Pattern(64 << 10, seed + offset));
        }
    }
}
