using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

public sealed class NbdSimpleReplyHeaderTests
{
    [Fact]
    public void Write_then_parse_round_trips_and_checks_the_magic()
    {
        var bytes = new byte[NbdProtocol.SimpleReplyHeaderLength];
        new NbdSimpleReplyHeader(NbdError.NoSpace, 42).Write(bytes);
        Assert.Equal(new byte[] { 0x67, 0x44, 0x66, 0x98, 0, 0, 0, 28 }, bytes[..8]);
        Assert.True(NbdSimpleReplyHeader.TryParse(bytes, out var parsed));
        Assert.Equal(new NbdSimpleReplyHeader(NbdError.NoSpace, 42), parsed);
        bytes[3] = 0;
        Assert.False(NbdSimpleReplyHeader.TryParse(bytes, out _));
    }
}
