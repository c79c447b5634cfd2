using System.Buffers.Binary;
using System.Numerics;

namespace CsiDriver.Engine;

/// <summary>CRC-32C (Castagnoli) as used by every on-disk format here: initial value and final
/// XOR 0xFFFFFFFF, reflected, hardware-accelerated through <see cref="BitOperations.Crc32C(uint, ulong)"/>.</summary>
internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second = default) =>
        ~Append(Append(uint.MaxValue, first), second);

    private static uint Append(uint state, ReadOnlySpan<byte> data)
    {
        while (data.Length >= sizeof(ulong))
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[sizeof(ulong)..];
        }
        foreach (var b in data)
        {
            state = BitOperations.Crc32C(state, b);
        }
        return state;
    }
}
