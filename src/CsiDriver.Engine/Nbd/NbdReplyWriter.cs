using System.Buffers.Binary;
using System.Text;

namespace CsiDriver.Engine.Nbd;

/// <summary>
/// Sends transmission replies. Requests finish in any order; each reply goes out whole, under one
/// lock, so replies of different requests never interleave on the wire.
/// </summary>
internal sealed class NbdReplyWriter(Stream stream, bool structuredReplies)
{
    /// <summary>Bytes a read buffer keeps free in front of its data for the reply header, so the
    /// header and the data leave in one write: a structured chunk header plus its 8-byte offset.</summary>
    public const int ReadPrefix = NbdProtocol.StructuredReplyHeaderLength + sizeof(ulong);

    private const int MaxMessageBytes = 512;

    private readonly SemaphoreSlim _lock = new(1, 1);

    // Header scratch for replies without data; only used while holding _lock.
    private readonly byte[] _scratch = new byte[NbdProtocol.StructuredReplyHeaderLength + 6 + MaxMessageBytes];

    public Task SendSuccessAsync(ulong handle) => SendLockedAsync(handle, NbdError.None, message: null);

    /// <summary>With structured replies the error travels as an error chunk carrying
    /// <paramref name="message"/>; otherwise as a simple reply with no data.</summary>
    public Task SendErrorAsync(ulong handle, NbdError error, string message) => SendLockedAsync(handle, error, message);

    /// <summary>Sends a successful READ whose <paramref name="length"/> bytes of data sit in
    /// <paramref name="buffer"/> at <see cref="ReadPrefix"/>.</summary>
    public async Task SendReadAsync(ulong handle, ulong offset, byte[] buffer, int length)
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
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            await stream.WriteAsync(buffer.AsMemory(start, ReadPrefix - start + length)).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task SendLockedAsync(ulong handle, NbdError error, string? message)
    {
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            var length = Format(handle, error, message);
            await stream.WriteAsync(_scratch.AsMemory(0, length)).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
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

    /// <summary>Encodes as much of <paramref name="message"/> as fits, never splitting a character.</summary>
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
