using System.Buffers.Binary;

namespace CsiDriver.Engine.Nbd;

/// <summary>
/// A client option during the handshake: magic "IHAVEOPT" (8) · option (4) · data length (4);
/// the option data follows.
/// </summary>
public readonly record struct NbdOptionHeader(NbdOption Option, uint DataLength)
{
    public static bool TryParse(ReadOnlySpan<byte> source, out NbdOptionHeader header)
    {
        header = default;
        if (source.Length < NbdProtocol.OptionHeaderLength
            || BinaryPrimitives.ReadUInt64BigEndian(source) != NbdProtocol.OptionMagic)
        {
            return false;
        }
        header = new NbdOptionHeader(
            (NbdOption)BinaryPrimitives.ReadUInt32BigEndian(source[8..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[12..]));
        return true;
    }

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, NbdProtocol.OptionMagic);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], (uint)Option);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], DataLength);
    }
}

/// <summary>
/// The server's reply to an option: magic (8) · option (4) · reply type (4) · data length (4);
/// the reply data follows.
/// </summary>
public readonly record struct NbdOptionReplyHeader(NbdOption Option, NbdOptionReply Reply, uint DataLength)
{
    public static bool TryParse(ReadOnlySpan<byte> source, out NbdOptionReplyHeader header)
    {
        header = default;
        if (source.Length < NbdProtocol.OptionReplyHeaderLength
            || BinaryPrimitives.ReadUInt64BigEndian(source) != NbdProtocol.OptionReplyMagic)
        {
            return false;
        }
        header = new NbdOptionReplyHeader(
            (NbdOption)BinaryPrimitives.ReadUInt32BigEndian(source[8..]),
            (NbdOptionReply)BinaryPrimitives.ReadUInt32BigEndian(source[12..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[16..]));
        return true;
    }

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, NbdProtocol.OptionReplyMagic);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], (uint)Option);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], (uint)Reply);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], DataLength);
    }
}
