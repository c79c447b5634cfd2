using CsiDriver.Engine.Tests.Nbd;

namespace CsiDriver.Engine.Tests.PowerCut;

/// <summary>
/// The power-cut disk itself, on its raw loop device (no file system, so nothing else on the
/// machine can flush it): what a flush covered survives a cut, and a write the device
/// acknowledged but no flush covered does not, even over data that was flushed before. Without
/// this, a disk that kept everything would make every power-cut test pass.
/// </summary>
public sealed class PowerCutDiskTests
{
    private const int Block = 4096;
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_cut_keeps_what_a_flush_covered_and_drops_what_none_did()
    {
        await using var disk = await PowerCutDisk.CreateAsync(16L << 20, fileSystem: false);
        var flushed = Bytes.Pattern(4 * Block, 1);
        var unflushed = Bytes.Pattern(4 * Block, 2);
        await WriteDirectAsync(disk.Device, 0, flushed, flush: true);
        await WriteDirectAsync(disk.Device, 256, unflushed, flush: false);
        await WriteDirectAsync(disk.Device, 1, Bytes.Pattern(Block, 3), flush: false); // over flushed data

        var requests = await disk.CutAsync();
        Assert.True(requests.Flushes >= 1, requests.ToString());
        Assert.True(requests.UnflushedWrites >= 2, requests.ToString());
        Assert.Equal(0, requests.Trims);
        await disk.RestoreAsync();

        Assert.Equal(flushed, await ReadDirectAsync(disk.Device, 0, flushed.Length));
        Assert.Equal(new byte[unflushed.Length], await ReadDirectAsync(disk.Device, 256, unflushed.Length));
    }

    /// <summary>O_DIRECT, so the write reaches the device rather than the page cache; with
    /// <paramref name="flush"/>, fsync of the block device (a flush) follows.</summary>
    private static async Task WriteDirectAsync(string device, long block, byte[] data, bool flush)
    {
        var source = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(source, data);
            await ExternalTool.RunAsync("dd",
                [$"if={source}", $"of={device}", $"bs={Block}", $"seek={block}", "oflag=direct", flush ? "conv=notrunc,fsync" : "conv=notrunc", "status=none"],
                ToolTimeout);
        }
        finally
        {
            File.Delete(source);
        }
    }

    private static async Task<byte[]> ReadDirectAsync(string device, long block, int length)
    {
        var target = Path.GetTempFileName();
        try
        {
            await ExternalTool.RunAsync("dd",
                [$"if={device}", $"of={target}", $"bs={Block}", $"skip={block}", $"count={length / Block}", "iflag=direct", "status=none"],
                ToolTimeout);
            return await File.ReadAllBytesAsync(target);
        }
        finally
        {
            File.Delete(target);
        }
    }
}
