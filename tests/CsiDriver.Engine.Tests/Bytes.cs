namespace CsiDriver.Engine.Tests;

/// <summary>Helpers to fill and read devices in tests.</summary>
internal static class Bytes
{
    public static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    public static byte[] Read(IBlockDevice device, long offset, int length)
    {
        var buffer = new byte[length];
        device.ReadAsync(offset, buffer).AsTask().GetAwaiter().GetResult();
        return buffer;
    }

    public static byte[] ReadAll(IBlockDevice device) => Read(device, 0, checked((int)device.Size));

    public static void Write(IBlockDevice device, long offset, byte[] data, bool fua = false) =>
        device.WriteAsync(offset, data, fua).AsTask().GetAwaiter().GetResult();
}
