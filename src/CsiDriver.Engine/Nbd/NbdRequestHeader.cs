using System.Buffers.Binary;

namespace CsiDriver.Engine.Nbd;

/// <summary>
/// The fixed 28-byte header of a transmission request:
/// magic (4) · command flags (2) · command (2) · handle (8) · offset (8) · length (4).
/// A WRITE is followed by <see cref="Length"/> bytes of data.
/// </summary>
public readonly record struct NbdRequestHeader(
    NbdCommandFlags Flags, NbdCommand Command, ulong Handle, ulong Offset, uint Length)
{
    /// <summary>Parses a header; false when the span is short or the magic is wrong.
    /// Command and flag values are not judged here (see <see cref="NbdRequestValidator"/>).</summary>
    public static bool TryParse(ReadOnlySpan<byte> source, out NbdRequestHeader header)
    {
        header = default;
        if (source.Length < NbdProtocol.RequestHeaderLength
            || BinaryPrimitives.ReadUInt32BigEndian(source) != NbdProtocol.RequestMagic)
        {
            return false;
        }
        header = new NbdRequestHeader(
            (NbdCommandFlags)BinaryPrimitives.ReadUInt16BigEndian(source[4..]),
            (NbdCommand)BinaryPrimitives.ReadUInt16BigEndian(source[6..]),
            BinaryPrimitives.ReadUInt64BigEndian(source[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(source[16..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[24..]));
        return true;
    }

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, NbdProtocol.RequestMagic);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], (ushort)Flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)Command);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Handle);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], Offset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[24..], Length);
    }
}
