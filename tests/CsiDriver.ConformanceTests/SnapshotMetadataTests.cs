using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Engine.Nbd;
using CsiDriver.Rpc;
using Google.Protobuf.Collections;

namespace CsiDriver.ConformanceTests;

/// <summary>
/// csi.v1.SnapshotMetadata through the published binary: data written over the driver's NBD
/// socket, snapshots cut over CSI, changed ranges streamed back and checked against what was
/// written; paging by max_results and starting_offset; the spec's error table; and an
/// incremental backup made by `csidriver copy-snapshot` that reproduces the target byte for byte.
/// </summary>
public sealed class SnapshotMetadataTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private const int Block = 4096;
    private const int Chunk = 64 << 10;
    private const long Size = 32 * Volumes.MiB;

    private CsiClient Csi => fixture.Csi;

    private string NbdSocket => Path.Combine(fixture.Driver.Workspace.DataDirectory, "nbd.sock");

    [Fact]
    public async Task The_plugin_advertises_the_snapshot_metadata_service()
    {
        var capabilities = await Csi.GetPluginCapabilities();
        Assert.Contains(capabilities.Capabilities, c => c.Service?.Type == PluginCapability.Types.Service.Types.Type.SnapshotMetadataService);
    }

    /// <summary>Random writes between two snapshots: the delta is the set of written 4 KiB blocks
    /// while the journal holds them, else exactly their chunks (a background checkpoint may have
    /// released the records); either way no unwritten chunk and no written block is left out.</summary>
    [Fact]
    public async Task The_delta_lists_exactly_what_was_written_between_two_snapshots()
    {
        var volume = await Csi.CreateAsync("cbt", Volumes.Block(), Size);
        var random = new Random(18);
        await WriteRandomBlocksAsync(volume.VolumeId, random, 40);
        var first = await Csi.SnapshotAsync(volume.VolumeId, "cbt-1");
        var written = await WriteRandomBlocksAsync(volume.VolumeId, random, 150);
        var second = await Csi.SnapshotAsync(volume.VolumeId, "cbt-2");
        await WriteRandomBlocksAsync(volume.VolumeId, random, 40);

        var responses = await Csi.GetMetadataDelta(new GetMetadataDeltaRequest { BaseSnapshotId = first.SnapshotId, TargetSnapshotId = second.SnapshotId });

        var ranges = Listed(responses);
        var perBlock = Coalesce(written, Block);
        var perChunk = Coalesce(written.Select(b => b * Block / Chunk).ToHashSet(), Chunk);
        Assert.True(ranges.SequenceEqual(perBlock) || ranges.SequenceEqual(perChunk),
            $"delta {Show(ranges)} is neither the written blocks {Show(perBlock)} nor their chunks {Show(perChunk)}");
        var unchanged = await Csi.GetMetadataDelta(new GetMetadataDeltaRequest { BaseSnapshotId = second.SnapshotId, TargetSnapshotId = second.SnapshotId });
        Assert.Empty(Listed(unchanged));
    }

    /// <summary>Pages of at most max_results, together the whole list; resuming from any
    /// starting_offset gives the ranges that end after it; at the capacity, one empty message.</summary>
    [Fact]
    public async Task Paging_by_max_results_and_starting_offset_covers_the_whole_volume()
    {
        var volume = await Csi.CreateAsync("cbt-pages", Volumes.Block(), Size);
        await using (var device = await NbdBlockDevice.OpenAsync(NbdSocket, volume.VolumeId))
        {
            // Every other chunk, across the whole volume: 256 separate ranges.
            for (long offset = 0; offset < Size; offset += 2 * Chunk)
            {
                await device.WriteAsync(offset, Marked(1), fua: false);
            }
        }
        var snapshot = await Csi.SnapshotAsync(volume.VolumeId, "cbt-pages");
        var whole = Listed(await Csi.GetMetadataAllocated(new() { SnapshotId = snapshot.SnapshotId }));
        Assert.Equal(Enumerable.Range(0, (int)(Size / (2 * Chunk))).Select(i => ((long)i * 2 * Chunk, (long)Chunk)), whole);

        var paged = await Csi.GetMetadataAllocated(new() { SnapshotId = snapshot.SnapshotId, MaxResults = 7 });
        Assert.All(paged, page => Assert.InRange(page.BlockMetadata.Count, 1, 7));
        Assert.Equal(whole, Listed(paged));

        foreach (var start in new[] { 0L, Chunk / 2, 3 * Chunk, 101 * Chunk + 5, Size - 1 })
        {
            var resumed = Listed(await Csi.GetMetadataAllocated(new() { SnapshotId = snapshot.SnapshotId, StartingOffset = start, MaxResults = 5 }));
            Assert.Equal(whole.Where(r => r.Offset + r.Length > start), resumed);
        }
        var atEnd = await Csi.GetMetadataAllocated(new() { SnapshotId = snapshot.SnapshotId, StartingOffset = Size });
        Assert.Empty(Assert.Single(atEnd).BlockMetadata);

        var first = await Csi.SnapshotAsync(volume.VolumeId, "cbt-pages-base");
        await using (var device = await NbdBlockDevice.OpenAsync(NbdSocket, volume.VolumeId))
        {
            for (long offset = Chunk; offset < Size; offset += 4 * Chunk)
            {
                await device.WriteAsync(offset + Block, Marked(2), fua: false);
            }
        }
        var second = await Csi.SnapshotAsync(volume.VolumeId, "cbt-pages-target");
        var delta = Listed(await Csi.GetMetadataDelta(new() { BaseSnapshotId = first.SnapshotId, TargetSnapshotId = second.SnapshotId }));
        Assert.Equal(Size / (4 * Chunk), delta.Count);
        var deltaPages = await Csi.GetMetadataDelta(new() { BaseSnapshotId = first.SnapshotId, TargetSnapshotId = second.SnapshotId, StartingOffset = 9 * Chunk, MaxResults = 3 });
        Assert.All(deltaPages, page => Assert.InRange(page.BlockMetadata.Count, 1, 3));
        Assert.Equal(delta.Where(r => r.Offset + r.Length > 9 * Chunk),
            Listed(deltaPages));
    }

    [Fact]
    public async Task Bad_requests_get_the_specs_codes()
    {
        var volume = await Csi.CreateAsync("cbt-errors", Volumes.Block(), Size);
        var other = await Csi.CreateAsync("cbt-errors-other", Volumes.Block(), Size);
        var older = await Csi.SnapshotAsync(volume.VolumeId, "cbt-older");
        var newer = await Csi.SnapshotAsync(volume.VolumeId, "cbt-newer");
        var elsewhere = await Csi.SnapshotAsync(other.VolumeId, "cbt-elsewhere");
        var unknown = Snapshots.NeverCreated();

        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.GetMetadataAllocated(new()));
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.GetMetadataAllocated(new() { SnapshotId = unknown }));
        await RpcAssert.FailsAsync(StatusCode.OutOfRange, () => Csi.GetMetadataAllocated(new() { SnapshotId = older.SnapshotId, StartingOffset = -1 }));
        await RpcAssert.FailsAsync(StatusCode.OutOfRange, () => Csi.GetMetadataAllocated(new() { SnapshotId = older.SnapshotId, StartingOffset = Size + 1 }));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.GetMetadataAllocated(new() { SnapshotId = older.SnapshotId, MaxResults = -1 }));

        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.GetMetadataDelta(new() { TargetSnapshotId = newer.SnapshotId }));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.GetMetadataDelta(new() { BaseSnapshotId = older.SnapshotId }));
        var missingBase = await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.GetMetadataDelta(new() { BaseSnapshotId = unknown, TargetSnapshotId = newer.SnapshotId }));
        Assert.Contains("base_snapshot_id", missingBase.Message);
        var missingTarget = await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.GetMetadataDelta(new() { BaseSnapshotId = older.SnapshotId, TargetSnapshotId = unknown }));
        Assert.Contains("target_snapshot_id", missingTarget.Message);
        var otherVolume = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.GetMetadataDelta(new() { BaseSnapshotId = elsewhere.SnapshotId, TargetSnapshotId = newer.SnapshotId }));
        Assert.Contains("one volume", otherVolume.Message);
        var backwards = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.GetMetadataDelta(new() { BaseSnapshotId = newer.SnapshotId, TargetSnapshotId = older.SnapshotId }));
        Assert.Contains("earlier", backwards.Message);
        await RpcAssert.FailsAsync(StatusCode.OutOfRange, () => Csi.GetMetadataDelta(new() { BaseSnapshotId = older.SnapshotId, TargetSnapshotId = newer.SnapshotId, StartingOffset = Size + Block }));
        await RpcAssert.FailsAsync(StatusCode.OutOfRange, () => Csi.GetMetadataDelta(new() { BaseSnapshotId = older.SnapshotId, TargetSnapshotId = newer.SnapshotId, StartingOffset = -Block }));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.GetMetadataDelta(new() { BaseSnapshotId = older.SnapshotId, TargetSnapshotId = newer.SnapshotId, MaxResults = -3 }));
    }

    /// <summary>A full copy of the base, then `copy-snapshot --since` reading only the delta
    /// ranges of the target over NBD onto it: the file equals the target byte for byte.</summary>
    [Fact]
    public async Task An_incremental_copy_onto_a_copy_of_the_base_reproduces_the_target_byte_for_byte()
    {
        var volume = await Csi.CreateAsync("cbt-copy", Volumes.Block(), Size);
        var random = new Random(1812);
        await using (var device = await NbdBlockDevice.OpenAsync(NbdSocket, volume.VolumeId))
        {
            await device.WriteAsync(3 * Volumes.MiB, Random(random, (int)(2 * Volumes.MiB)), fua: false);
        }
        await WriteRandomBlocksAsync(volume.VolumeId, random, 100);
        var baseline = await Csi.SnapshotAsync(volume.VolumeId, "cbt-copy-base");
        await WriteRandomBlocksAsync(volume.VolumeId, random, 200);
        await using (var device = await NbdBlockDevice.OpenAsync(NbdSocket, volume.VolumeId))
        {
            await device.TrimAsync(4 * Volumes.MiB, Volumes.MiB);
        }
        var target = await Csi.SnapshotAsync(volume.VolumeId, "cbt-copy-target");
        var backup = Path.Combine(fixture.Driver.Workspace.Root, $"backup-{Guid.NewGuid():N}.img");

        var full = await CopyAsync(baseline.SnapshotId, null, backup);
        Assert.Equal(await ReadSnapshotAsync(baseline.SnapshotId), await File.ReadAllBytesAsync(backup));
        var incremental = await CopyAsync(target.SnapshotId, baseline.SnapshotId, backup);

        Assert.Equal(await ReadSnapshotAsync(target.SnapshotId), await File.ReadAllBytesAsync(backup));
        var delta = Listed(await Csi.GetMetadataDelta(new() { BaseSnapshotId = baseline.SnapshotId, TargetSnapshotId = target.SnapshotId }));
        Assert.Contains($"{delta.Sum(r => r.Length)} of {Size} bytes", incremental);
        Assert.Contains($"changed since {baseline.SnapshotId}", incremental);
        Assert.Contains("allocated", full);
    }

    [Fact]
    public async Task An_incremental_copy_refuses_a_destination_that_is_not_there()
    {
        var volume = await Csi.CreateAsync("cbt-nocopy", Volumes.Block(), Size);
        var baseline = await Csi.SnapshotAsync(volume.VolumeId, "cbt-nocopy-base");
        var target = await Csi.SnapshotAsync(volume.VolumeId, "cbt-nocopy-target");
        var missing = Path.Combine(fixture.Driver.Workspace.Root, $"absent-{Guid.NewGuid():N}.img");

        var (exitCode, output) = await DriverCommand.RunToExitAsync(CopyArguments(target.SnapshotId, baseline.SnapshotId, missing), TimeSpan.FromMinutes(2));

        Assert.Equal(1, exitCode);
        Assert.Contains("copy of the base snapshot", output.AllText);
        Assert.False(File.Exists(missing));
    }

    private string[] CopyArguments(string snapshotId, string? since, string to) =>
    [
        "copy-snapshot", "--endpoint", "unix://" + fixture.Driver.Workspace.SocketPath, "--nbd-endpoint", "unix://" + NbdSocket,
        "--snapshot", snapshotId, "--to", to, .. since is null ? Array.Empty<string>() : ["--since", since],
    ];

    /// <summary>Runs copy-snapshot to success and returns its summary line.</summary>
    private async Task<string> CopyAsync(string snapshotId, string? since, string to)
    {
        var (exitCode, output) = await DriverCommand.RunToExitAsync(CopyArguments(snapshotId, since, to), TimeSpan.FromMinutes(3));
        Assert.True(exitCode == 0, $"copy-snapshot failed ({exitCode}):\n{output.AllText}");
        return Assert.Single(output.StandardOutput, line => line.StartsWith("copied ", StringComparison.Ordinal));
    }

    private async Task<byte[]> ReadSnapshotAsync(string snapshotId)
    {
        await using var device = await NbdBlockDevice.OpenAsync(NbdSocket, snapshotId);
        Assert.True(device.IsReadOnly, "a snapshot is exported read-only");
        var data = new byte[device.Size];
        for (var offset = 0; offset < data.Length; offset += (int)Volumes.MiB)
        {
            await device.ReadAsync(offset, data.AsMemory(offset, (int)Math.Min(Volumes.MiB, data.Length - offset)));
        }
        return data;
    }

    /// <summary>Runs of 1 to 3 random blocks at random block offsets, over NBD; returns the blocks written.</summary>
    private async Task<HashSet<long>> WriteRandomBlocksAsync(string volumeId, Random random, int count)
    {
        var blocks = new HashSet<long>();
        await using var device = await NbdBlockDevice.OpenAsync(NbdSocket, volumeId);
        for (var i = 0; i < count; i++)
        {
            var first = random.NextInt64(Size / Block - 3);
            var length = 1 + random.Next(3);
            await device.WriteAsync(first * Block, Random(random, length * Block), fua: false);
            blocks.UnionWith(Enumerable.Range(0, length).Select(b => first + b));
        }
        await device.FlushAsync();
        return blocks;
    }

    /// <summary>One block whose first byte is <paramref name="mark"/>.</summary>
    private static byte[] Marked(byte mark)
    {
        var block = new byte[Block];
        block[0] = mark;
        return block;
    }

    private static byte[] Random(Random random, int length)
    {
        var data = new byte[length];
        random.NextBytes(data);
        return data;
    }

    private static List<(long Offset, long Length)> Listed(IEnumerable<GetMetadataAllocatedResponse> messages) =>
        CheckStream(messages.Select(r => (r.BlockMetadataType, r.VolumeCapacityBytes, r.BlockMetadata)));

    private static List<(long Offset, long Length)> Listed(IEnumerable<GetMetadataDeltaResponse> messages) =>
        CheckStream(messages.Select(r => (r.BlockMetadataType, r.VolumeCapacityBytes, r.BlockMetadata)));

    /// <summary>The spec's rules for a stream: every message VARIABLE_LENGTH with the volume's
    /// capacity, ranges strictly increasing and not overlapping across messages; returns them.</summary>
    private static List<(long Offset, long Length)> CheckStream(IEnumerable<(BlockMetadataType Type, long Capacity, RepeatedField<BlockMetadata> Ranges)> messages)
    {
        const long capacity = Size;
        var ranges = new List<(long Offset, long Length)>();
        foreach (var (type, messageCapacity, page) in messages)
        {
            Assert.Equal(BlockMetadataType.VariableLength, type);
            Assert.Equal(capacity, messageCapacity);
            foreach (var range in page)
            {
                Assert.True(range.SizeBytes > 0, $"empty range at {range.ByteOffset}");
                Assert.True(ranges.Count == 0 || ranges[^1].Offset + ranges[^1].Length <= range.ByteOffset, $"range at {range.ByteOffset} overlaps or precedes the one before");
                Assert.True(range.ByteOffset + range.SizeBytes <= capacity, $"range at {range.ByteOffset} ends past the capacity");
                ranges.Add((range.ByteOffset, range.SizeBytes));
            }
        }
        return ranges;
    }

    private static List<(long Offset, long Length)> Coalesce(IEnumerable<long> units, long unit)
    {
        var ranges = new List<(long Offset, long Length)>();
        foreach (var index in units.Order())
        {
            if (ranges.Count > 0 && ranges[^1].Offset + ranges[^1].Length == index * unit)
            {
                ranges[^1] = (ranges[^1].Offset, ranges[^1].Length + unit);
            }
            else
            {
                ranges.Add((index * unit, unit));
            }
        }
        return ranges;
    }

    private static string Show(IEnumerable<(long Offset, long Length)> ranges) =>
        string.Join(" ", ranges.Take(12).Select(r => $"{r.Offset}+{r.Length}")) + " …";
}
