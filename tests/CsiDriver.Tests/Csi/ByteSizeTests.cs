using CsiDriver.Csi;

namespace CsiDriver.Tests.Csi;

public class ByteSizeTests
{
    [Theory]
    [InlineData("1048576", 1048576L)]
    [InlineData("10Gi", 10L << 30)]
    [InlineData("500Mi", 500L << 20)]
    [InlineData("2Ti", 2L << 40)]
    [InlineData("10G", 10_000_000_000L)]
    [InlineData("3k", 3_000L)]
    public void Parses_kubernetes_quantities(string text, long expected) => Assert.Equal(expected, ByteSize.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("ten")]
    [InlineData("-5Gi")]
    [InlineData("1.5Gi")]
    [InlineData("99999999999999Pi")]
    public void Refuses_what_is_not_a_size(string text)
    {
        Assert.False(ByteSize.TryParse(text, out _));
        var error = Assert.Throws<FormatException>(() => ByteSize.Parse(text));
        Assert.Contains(text, error.Message);
    }
}
