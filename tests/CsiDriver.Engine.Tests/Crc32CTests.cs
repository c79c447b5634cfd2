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
}
