using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

public sealed class NbdStructuredReplyHeaderTests
{
    [Fact]
    public void Write_then_parse_round_trips_and_checks_the_magic()
    {
        var header = new NbdStructuredReplyHeader(NbdReplyChunkFlags.Done, NbdReplyChunk.Error, 7, 6);
        var bytes = new byte[NbdProtocol.StructuredReplyHeaderLength];
        header.Write(bytes);
        Assert.Equal(new byte[] { 0x66, 0x8e, 0x33, 0xef, 0, 1, 0x80, 0x01 }, bytes[..8]);
        Assert.True(NbdStructuredReplyHeader.TryParse(bytes, out var parsed));
        Assert.Equal(header, parsed);
        Assert.False(NbdStructuredReplyHeader.TryParse(bytes.AsSpan(1), out _));
    }
}
