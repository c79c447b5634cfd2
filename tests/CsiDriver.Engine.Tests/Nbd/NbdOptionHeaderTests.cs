using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

public sealed class NbdOptionHeaderTests
{
    [Fact]
    public void Write_then_parse_round_trips_and_checks_the_ihaveopt_magic()
    {
        var bytes = new byte[NbdProtocol.OptionHeaderLength];
        new NbdOptionHeader(NbdOption.Go, 12).Write(bytes);
        Assert.Equal("IHAVEOPT"u8.ToArray(), bytes[..8]);
        Assert.True(NbdOptionHeader.TryParse(bytes, out var parsed));
        Assert.Equal(new NbdOptionHeader(NbdOption.Go, 12), parsed);
        bytes[7] = (byte)'X';
        Assert.False(NbdOptionHeader.TryParse(bytes, out _));
    }
}
