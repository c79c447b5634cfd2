using System.Buffers.Binary;

namespace CsiDriver.Engine.Nbd;

/// <summary>
/// Simple reply: magic (4) · error (4) · handle (8); a successful READ's data follows.
/// </summary>
public readonly record struct NbdSimpleReplyHeader(NbdError Error, ulong Handle)
{
    public static bool TryParse(ReadOnlySpan<byte> source, out NbdSimpleReplyHeader header)
    {
        header = default;
        if (source.Length < NbdProtocol.SimpleReplyHeaderLength
            || BinaryPrimitives.ReadUInt32BigEndian(source) != NbdProtocol.SimpleReplyMagic)
        {
            return false;
        }
        header = new NbdSimpleReplyHeader(
            (NbdError)BinaryPrimitives.ReadUInt32BigEndian(source[4..]),
            BinaryPrimitives.ReadUInt64BigEndian(source[8..]));
        return true;
    }

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, NbdProtocol.SimpleReplyMagic);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], (uint)Error);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Handle);
    }
}

/// <summary>
/// One structured reply chunk header: magic (4) · flags (2) · chunk type (2) · handle (8) ·
/// payload length (4); the payload follows.
/// </summary>
public readonly record struct NbdStructuredReplyHeader(
    NbdReplyChunkFlags Flags, NbdReplyChunk Type, ulong Handle, uint PayloadLength)
{
    public static bool TryParse(ReadOnlySpan<byte> source, out NbdStructuredReplyHeader header)
    {
        header = default;
        if (source.Length < NbdProtocol.StructuredReplyHeaderLength
            || BinaryPrimitives.ReadUInt32BigEndian(source) != NbdProtocol.StructuredReplyMagic)
        {
            return false;
        }
        header = new NbdStructuredReplyHeader(
            (NbdReplyChunkFlags)BinaryPrimitives.ReadUInt16BigEndian(source[4..]),
            (NbdReplyChunk)BinaryPrimitives.ReadUInt16BigEndian(source[6..]),
            BinaryPrimitives.ReadUInt64BigEndian(source[8..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[16..]));
        return true;
    }

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, NbdProtocol.StructuredReplyMagic);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], (ushort)Flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)Type);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Handle);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], PayloadLength);
    }
}
