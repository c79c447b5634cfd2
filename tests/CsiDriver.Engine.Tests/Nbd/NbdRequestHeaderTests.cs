using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

public sealed class NbdRequestHeaderTests
{
    [Fact]
    public void Write_then_parse_gives_the_same_header_in_network_byte_order()
    {
        var header = new NbdRequestHeader(NbdCommandFlags.Fua, NbdCommand.Write, 0x0102030405060708, 0x1000, 4096);
        var bytes = new byte[NbdProtocol.RequestHeaderLength];
        header.Write(bytes);
        Assert.Equal(new byte[] { 0x25, 0x60, 0x95, 0x13, 0, 1, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8 }, bytes[..16]);
        Assert.True(NbdRequestHeader.TryParse(bytes, out var parsed));
        Assert.Equal(header, parsed);
    }

    [Fact]
    public void Wrong_magic_or_short_input_does_not_parse()
    {
        var bytes = new byte[NbdProtocol.RequestHeaderLength];
        new NbdRequestHeader(NbdCommandFlags.None, NbdCommand.Read, 1, 0, 512).Write(bytes);
        Assert.False(NbdRequestHeader.TryParse(bytes.AsSpan(0, NbdProtocol.RequestHeaderLength - 1), out _));
        bytes[0] ^= 0xFF;
        Assert.False(NbdRequestHeader.TryParse(bytes, out _));
    }
}
