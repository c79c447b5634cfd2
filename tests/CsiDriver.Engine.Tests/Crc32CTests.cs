using System.Text;

namespace CsiDriver.Engine.Tests;

public sealed class Crc32CTests
{
    [Fact]
    public void MatchesTheCastagnoliCheckValue() =>
        Assert.Equal(0xE3069283u, Crc32C.Compute(Encoding.ASCII.GetBytes("123456789")));

    [Fact]
    public void SplitInputGivesTheSameValue()
    {
        var data = Bytes.Pattern(1000, 5);
        Assert.Equal(Crc32C.Compute(data), Crc32C.Compute(data.AsSpan(0, 333), data.AsSpan(333)));
    }

    /// <summary>Long inputs are checksummed in lanes joined afterwards: around the block size of
    /// three 4 KiB lanes, over many blocks, and with the state carried in from a first part.</summary>
    [Theory]
    [InlineData(3 * 4096 - 1)]
    [InlineData(3 * 4096)]
    [InlineData(3 * 4096 + 1)]
    [InlineData(6 * 4096 + 13)]
    [InlineData(1 << 20)]
    public void LongInputsMatchABitwiseReference(int length)
    {
        var data = Bytes.Pattern(length, length);
        Assert.Equal(Reference(data), Crc32C.Compute(data));
        Assert.Equal(Reference(data), Crc32C.Compute(data.AsSpan(0, 56), data.AsSpan(56)));
    }

    [Fact]
    public void AFlippedBitInAnyLaneChangesTheValue()
    {
        var data = Bytes.Pattern(3 * 4096, 9);
        var original = Crc32C.Compute(data);
        foreach (var at in new[] { 0, 4095, 4096, 8191, 8192, 3 * 4096 - 1 })
        {
            data[at] ^= 0x10;
            Assert.NotEqual(original, Crc32C.Compute(data));
            data[at] ^= 0x10;
        }
    }

    /// <summary>CRC-32C one bit at a time from its definition (reflected polynomial 0x82F63B78).</summary>
    private static uint Reference(ReadOnlySpan<byte> data)
    {
        var crc = uint.MaxValue;
        foreach (var b in data)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc >> 1) ^ ((crc & 1) * 0x82F63B78u);
            }
        }
        return ~crc;
    }
}
