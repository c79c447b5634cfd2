using CsiDriver.Engine;

namespace CsiDriver.Replication.Tests;

/// <summary>Writing and comparing volume contents in the replication tests.</summary>
internal static class Volumes
{
    public const long Size = 4L << 20;

    /// <summary>A 4 KiB block whose bytes all say <paramref name="value"/> (as little-endian ints).</summary>
    public static byte[] Block(int value)
    {
        var block = new byte[4096];
        for (var i = 0; i < block.Length; i += sizeof(int))
        {
            BitConverter.TryWriteBytes(block.AsSpan(i), value);
        }
        return block;
    }

    public static async Task<byte[]> ReadAllAsync(IBlockDevice device)
    {
        var data = new byte[device.Size];
        await device.ReadAsync(0, data);
        return data;
    }

    /// <summary>The value of each of the first <paramref name="count"/> 4 KiB blocks.</summary>
    public static async Task<int[]> ReadSlotsAsync(IBlockDevice device, int count)
    {
        var data = new byte[count * 4096];
        await device.ReadAsync(0, data);
        return Enumerable.Range(0, count).Select(slot => BitConverter.ToInt32(data, slot * 4096)).ToArray();
    }

    /// <summary>Waits (bounded) until <paramref name="condition"/> holds; fails the test with <paramref name="what"/> otherwise.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out after {seconds} s waiting for {what}");
            }
            await Task.Delay(20);
        }
    }
}
