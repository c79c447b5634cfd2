using System.Net.Sockets;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

public sealed class NbdReceiveBufferTests
{
    [Fact]
    public async Task Small_and_large_reads_return_the_stream_in_order()
    {
        var (reader, writer) = SocketPair();
        using (reader)
        using (writer)
        {
            var data = NbdTestEnvironment.RandomBytes(300_000, seed: 1);
            var sending = Task.Run(() => NbdReplyWriter.SendAll(writer, data));
            var buffer = new NbdReceiveBuffer(reader, capacity: 4096);
            var received = new byte[data.Length];
            var sizes = new[] { 28, 4096, 1, 100_000, 3, 2048 };
            var offset = 0;
            for (var i = 0; offset < data.Length; i++)
            {
                var n = Math.Min(sizes[i % sizes.Length], data.Length - offset);
                buffer.ReadExactly(received.AsSpan(offset, n));
                offset += n;
            }
            await sending;
            Assert.Equal(data, received);
        }
    }

    [Fact]
    public void A_peer_closing_mid_message_is_an_end_of_stream()
    {
        var (reader, writer) = SocketPair();
        using (reader)
        {
            writer.Send(new byte[10]);
            writer.Dispose();
            var buffer = new NbdReceiveBuffer(reader);
            Assert.Throws<EndOfStreamException>(() => buffer.ReadExactly(new byte[28]));
        }
    }

    private static (Socket Reader, Socket Writer) SocketPair()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nbd-pair-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var writer = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        writer.Connect(new UnixDomainSocketEndPoint(path));
        var reader = listener.Accept();
        File.Delete(path);
        return (reader, writer);
    }
}
