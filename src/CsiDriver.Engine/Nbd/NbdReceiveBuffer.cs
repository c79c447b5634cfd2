using System.Net.Sockets;

namespace CsiDriver.Engine.Nbd;

/// <summary>
/// Reads exact byte counts from a connection's socket with blocking receives (the connection's
/// own thread does nothing else). Small messages (headers, options) are served from one buffer
/// refilled with large receives, so a burst of pipelined requests costs few system calls; large
/// payloads past what is buffered are received straight into the caller's memory.
/// </summary>
internal sealed class NbdReceiveBuffer(Socket socket, int capacity = 64 * 1024)
{
    private readonly byte[] _buffer = new byte[capacity];
    private int _start;
    private int _end;

    /// <summary>Fills <paramref name="destination"/> completely or throws
    /// <see cref="EndOfStreamException"/> when the peer closes (or the socket is shut down) first.</summary>
    public void ReadExactly(Span<byte> destination)
    {
        var buffered = Math.Min(destination.Length, _end - _start);
        _buffer.AsSpan(_start, buffered).CopyTo(destination);
        _start += buffered;
        destination = destination[buffered..];
        while (destination.Length > 0)
        {
            if (destination.Length >= _buffer.Length / 2)
            {
                destination = destination[ReceivedOrThrow(socket.Receive(destination))..];
                continue;
            }
            _start = 0;
            _end = ReceivedOrThrow(socket.Receive(_buffer));
            var n = Math.Min(destination.Length, _end);
            _buffer.AsSpan(0, n).CopyTo(destination);
            _start = n;
            destination = destination[n..];
        }
    }

    /// <summary>Whether bytes are buffered or arrive (or the peer closes) within <paramref name="timeout"/>.</summary>
    public bool WaitReadable(TimeSpan timeout) => _end > _start || socket.Poll(timeout, SelectMode.SelectRead);

    private static int ReceivedOrThrow(int received) =>
        received > 0 ? received : throw new EndOfStreamException("the NBD connection closed mid-message");
}
