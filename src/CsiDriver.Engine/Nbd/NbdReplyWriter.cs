using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace CsiDriver.Engine.Nbd;

/// <summary>
/// Sends transmission replies. Requests finish in any order, on any thread; each reply goes out
/// whole under one lock, so replies of different requests never interleave on the wire.
/// </summary>
internal sealed class NbdReplyWriter(Socket socket, bool structuredReplies)
{
    /// <summary>Bytes a read buffer keeps free in front of its data for the reply header, so the
    /// header and the data leave in one send: a structured chunk header plus its 8-byte offset.</summary>
    public const int ReadPrefix = NbdProtocol.StructuredReplyHeaderLength + sizeof(ulong);

    private const int MaxMessageBytes = 512;

    private readonly Lock _lock = new();

    // Reply scratch for replies without data; only used while holding _lock.
    private readonly byte[] _scratch = new byte[NbdProtocol.StructuredReplyHeaderLength + 6 + MaxMessageBytes];

    public void SendSuccess(ulong handle) => SendLocked(handle, NbdError.None, message: null);

    /// <summary>With structured replies the error travels as an error chunk carrying
    /// <paramref name="message"/>; otherwise as a simple reply with no data.</summary>
    public void SendError(ulong handle, NbdError error, string message) => SendLocked(handle, error, message);

    /// <summary>Sends a successful READ whose <paramref name="length"/> bytes of data sit in
    /// <paramref name="buffer"/> at <see cref="ReadPrefix"/>.</summary>
    public void SendRead(ulong handle, ulong offset, byte[] buffer, int length)
    {
        int start;
        if (structuredReplies)
        {
            start = 0;
            new NbdStructuredReplyHeader(NbdReplyChunkFlags.Done, NbdReplyChunk.OffsetData, handle, (uint)(sizeof(ulong) + length))
                .Write(buffer);
            BinaryPrimitives.WriteUInt64BigEndian(buffer.AsSpan(NbdProtocol.StructuredReplyHeaderLength), offset);
        }
        else
        {
            start = ReadPrefix - NbdProtocol.SimpleReplyHeaderLength;
            new NbdSimpleReplyHeader(NbdError.None, handle).Write(buffer.AsSpan(start));
        }
        lock (_lock)
        {
            SendAll(socket, buffer.AsSpan(start, ReadPrefix - start + length));
        }
    }

    /// <summary>Blocking send of every byte (the socket's send timeout bounds a client that stops reading).</summary>
    public static void SendAll(Socket socket, ReadOnlySpan<byte> data)
    {
        while (data.Length > 0)
        {
            data = data[socket.Send(data)..];
        }
    }

    private void SendLocked(ulong handle, NbdError error, string? message)
    {
        lock (_lock)
        {
            SendAll(socket, _scratch.AsSpan(0, Format(handle, error, message)));
        }
    }

    private int Format(ulong handle, NbdError error, string? message)
    {
        if (error == NbdError.None || !structuredReplies)
        {
            // A simple reply is allowed for anything but a READ's data, even after structured
            // replies were negotiated.
            new NbdSimpleReplyHeader(error, handle).Write(_scratch);
            return NbdProtocol.SimpleReplyHeaderLength;
        }
        var text = _scratch.AsSpan(NbdProtocol.StructuredReplyHeaderLength + 6, MaxMessageBytes);
        var messageLength = TruncatedUtf8(message ?? "", text);
        new NbdStructuredReplyHeader(NbdReplyChunkFlags.Done, NbdReplyChunk.Error, handle, (uint)(6 + messageLength))
            .Write(_scratch);
        BinaryPrimitives.WriteUInt32BigEndian(_scratch.AsSpan(NbdProtocol.StructuredReplyHeaderLength), (uint)error);
        BinaryPrimitives.WriteUInt16BigEndian(_scratch.AsSpan(NbdProtocol.StructuredReplyHeaderLength + 4), (ushort)messageLength);
        return NbdProtocol.StructuredReplyHeaderLength + 6 + messageLength;
    }

    /// <summary>Encodes as much of <paramref name="message"/> as fits.</summary>
    private static int TruncatedUtf8(string message, Span<byte> destination)
    {
        var chars = message.AsSpan();
        while (Encoding.UTF8.GetByteCount(chars) > destination.Length)
        {
            chars = chars[..(chars.Length * 3 / 4)];
        }
        return Encoding.UTF8.GetBytes(chars, destination);
    }
}
