using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

public sealed class NbdOptionReplyHeaderTests
{
    [Fact]
    public void Write_then_parse_round_trips_and_checks_the_magic()
    {
        var header = new NbdOptionReplyHeader(NbdOption.Info, NbdOptionReply.ErrorUnknown, 20);
        var bytes = new byte[NbdProtocol.OptionReplyHeaderLength];
        header.Write(bytes);
        Assert.Equal(new byte[] { 0, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9 }, bytes[..8]);
        Assert.Equal(new byte[] { 0x80, 0, 0, 6 }, bytes[12..16]);
        Assert.True(NbdOptionReplyHeader.TryParse(bytes, out var parsed));
        Assert.Equal(header, parsed);
        Assert.False(NbdOptionReplyHeader.TryParse(bytes.AsSpan(0, 19), out _));
    }
}
