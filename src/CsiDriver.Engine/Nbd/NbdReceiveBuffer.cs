namespace CsiDriver.Engine.Nbd;

/// <summary>
/// Reads exact byte counts from a connection. Small messages (headers, options) are served from
/// one buffer refilled with large socket reads, so a burst of pipelined requests costs few system
/// calls; large payloads past what is buffered are read straight into the caller's memory.
/// Only one reader uses it at a time (the connection's request loop).
/// </summary>
internal sealed class NbdReceiveBuffer(Stream stream, int capacity = 64 * 1024)
{
    private readonly byte[] _buffer = new byte[capacity];
    private int _start;
    private int _end;

    /// <summary>Fills <paramref name="destination"/> completely or throws
    /// <see cref="EndOfStreamException"/> when the peer closes first.</summary>
    public async ValueTask ReadExactlyAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var buffered = Math.Min(destination.Length, _end - _start);
        _buffer.AsSpan(_start, buffered).CopyTo(destination.Span);
        _start += buffered;
        destination = destination[buffered..];
        while (destination.Length > 0)
        {
            if (destination.Length >= _buffer.Length / 2)
            {
                destination = destination[ReceivedOrThrow(await stream.ReadAsync(destination, cancellationToken))..];
                continue;
            }
            _start = 0;
            _end = ReceivedOrThrow(await stream.ReadAsync(_buffer, cancellationToken));
            var n = Math.Min(destination.Length, _end);
            _buffer.AsSpan(0, n).CopyTo(destination.Span);
            _start = n;
            destination = destination[n..];
        }
    }

    private static int ReceivedOrThrow(int received) =>
        received > 0 ? received : throw new EndOfStreamException("the NBD client closed the connection mid-message");
}
