using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Google.Protobuf;

namespace CsiDriver.Rpc.Protocol;

/// <summary>
/// A gRPC length-prefixed message: byte 0 is the compressed flag (0 or 1), bytes 1–4 the payload
/// length as an unsigned big-endian integer, then the payload (a serialized protobuf message).
/// gRPC frames carry no checksum of their own: HTTP/2 over TCP/TLS or a unix socket is trusted.
/// </summary>
internal static class MessageFraming
{
    public const int HeaderSize = 5;
    private const byte Uncompressed = 0;
    private const byte Compressed = 1;

    public enum FrameStatus { Complete, Incomplete, TooLarge, CompressedNotSupported, InvalidFlag }

    /// <summary>
    /// Looks for one whole frame at the start of <paramref name="buffer"/>. Size and flag are judged
    /// from the header alone, so an oversize message is refused before its payload is buffered.
    /// </summary>
    public static FrameStatus TryParse(
        in ReadOnlySequence<byte> buffer, int maxMessageSize,
        out ReadOnlySequence<byte> payload, out long declaredLength)
    {
        payload = default;
        declaredLength = 0;
        if (buffer.Length < HeaderSize)
        {
            return FrameStatus.Incomplete;
        }
        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        declaredLength = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        switch (header[0])
        {
            case Uncompressed:
                break;
            case Compressed:
                return FrameStatus.CompressedNotSupported;
            default:
                return FrameStatus.InvalidFlag;
        }
        if (declaredLength > maxMessageSize)
        {
            return FrameStatus.TooLarge;
        }
        if (buffer.Length < HeaderSize + declaredLength)
        {
            return FrameStatus.Incomplete;
        }
        payload = buffer.Slice(HeaderSize, declaredLength);
        return FrameStatus.Complete;
    }

    /// <summary>
    /// Reads the next message; default (null) when the stream ended cleanly between messages.
    /// A truncated, oversize or compressed frame ends the call with an RpcException.
    /// </summary>
    public static ValueTask<T?> ReadMessageAsync<T>(
        PipeReader reader, MessageParser<T> parser, int maxMessageSize, CancellationToken cancellationToken)
        where T : IMessage<T> =>
        ReadMessageAsync<T>(reader, parser.ParseFrom, maxMessageSize, cancellationToken);

    /// <inheritdoc cref="ReadMessageAsync{T}(PipeReader, MessageParser{T}, int, CancellationToken)"/>
    public static async ValueTask<T?> ReadMessageAsync<T>(
        PipeReader reader, Func<ReadOnlySequence<byte>, T> decode, int maxMessageSize, CancellationToken cancellationToken)
        where T : IMessage<T>
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var status = TryParse(buffer, maxMessageSize, out var payload, out var length);
            switch (status)
            {
                case FrameStatus.Complete:
                    T message;
                    try
                    {
                        message = decode(payload);
                    }
                    catch (InvalidProtocolBufferException ex)
                    {
                        reader.AdvanceTo(buffer.Start);
                        throw new RpcException(StatusCode.Internal, $"Failed to parse message: {ex.Message}");
                    }
                    reader.AdvanceTo(payload.End);
                    return message;
                case FrameStatus.TooLarge:
                    reader.AdvanceTo(buffer.Start);
                    throw new RpcException(StatusCode.ResourceExhausted,
                        $"Received message larger than max ({length} vs. {maxMessageSize} bytes)");
                case FrameStatus.CompressedNotSupported:
                    reader.AdvanceTo(buffer.Start);
                    throw new RpcException(StatusCode.Internal,
                        "Received a compressed message, but compression is not supported (only grpc-encoding identity)");
                case FrameStatus.InvalidFlag:
                    reader.AdvanceTo(buffer.Start);
                    throw new RpcException(StatusCode.Internal, "Received a message with an invalid compressed flag");
            }
            if (result.IsCompleted || result.IsCanceled)
            {
                var empty = buffer.IsEmpty;
                reader.AdvanceTo(buffer.End);
                if (empty && result.IsCompleted)
                {
                    return default;
                }
                throw new RpcException(StatusCode.Internal,
                    result.IsCanceled ? "Reading the message stream was cancelled" : "Message stream ended inside a message (truncated frame)");
            }
            // Nothing consumed; everything examined, so the next read waits for more bytes.
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Writes header and payload of one uncompressed message.</summary>
    public static void WriteMessage(IBufferWriter<byte> writer, IMessage message)
    {
        var size = message.CalculateSize();
        Write(writer.GetSpan(HeaderSize + size), message, size);
        writer.Advance(HeaderSize + size);
    }

    public static byte[] ToFrame(IMessage message)
    {
        var size = message.CalculateSize();
        var frame = new byte[HeaderSize + size];
        Write(frame, message, size);
        return frame;
    }

    /// <summary>The frame of <paramref name="message"/> in a buffer rented from
    /// <see cref="ArrayPool{T}.Shared"/> (the caller returns it): a stream of large messages (the
    /// site link's batches run to megabytes) is framed without a fresh large-object array each.</summary>
    public static (byte[] Buffer, int Length) RentFrame(IMessage message)
    {
        var size = message.CalculateSize();
        var frame = ArrayPool<byte>.Shared.Rent(HeaderSize + size);
        Write(frame, message, size);
        return (frame, HeaderSize + size);
    }

    private static void Write(Span<byte> frame, IMessage message, int size)
    {
        frame[0] = Uncompressed;
        BinaryPrimitives.WriteUInt32BigEndian(frame[1..HeaderSize], (uint)size);
        message.WriteTo(frame.Slice(HeaderSize, size));
    }
}
