using CsiDriver.Rpc.Protocol;

namespace CsiDriver.Rpc.Tests;

public class StatusMessageEncodingTests
{
    [Fact]
    public void Printable_ascii_is_left_alone()
    {
        Assert.Equal("volume vol-1 not found", StatusMessageEncoding.Encode("volume vol-1 not found"));
    }

    [Fact]
    public void Percent_and_non_ascii_are_escaped_as_utf8()
    {
        Assert.Equal("50%25 d%C3%A9j%C3%A0%0Aok", StatusMessageEncoding.Encode("50% déjà\nok"));
    }

    [Theory]
    [InlineData("100% full")]
    [InlineData("Größe überschritten: 卷 vol-7 ✓")]
    [InlineData("tab\tnewline\n%41 literal")]
    [InlineData("")]
    public void Round_trips(string message)
    {
        Assert.Equal(message, StatusMessageEncoding.Decode(StatusMessageEncoding.Encode(message)));
    }

    [Fact]
    public void Malformed_escapes_are_kept_as_text()
    {
        Assert.Equal("50%zz and %4", StatusMessageEncoding.Decode("50%zz and %4"));
        Assert.Equal("a%b", StatusMessageEncoding.Decode("a%25b"));
        Assert.Equal("100% 😀 kept", StatusMessageEncoding.Decode("100%25 😀 kept"));
    }
}
