using System.Buffers.Binary;
using System.Text;

namespace CsiDriver.Sessions;

/// <summary>What a message between csidriver and the session holder asks or answers.</summary>
public enum HolderMessageKind : byte
{
    /// <summary>csidriver → holder, with a descriptor: keep it under the name (replacing one held there).</summary>
    Hold = 1,

    /// <summary>csidriver → holder: close what is held under the name.</summary>
    Release = 2,

    /// <summary>csidriver → holder: send every session whose name starts with the given prefix.</summary>
    List = 3,

    /// <summary>holder → csidriver: Hold or Release done.</summary>
    Done = 0x80,

    /// <summary>holder → csidriver, with a copy of the descriptor: one held session (answering List).</summary>
    Entry = 0x81,

    /// <summary>holder → csidriver: no more entries.</summary>
    End = 0x82,

    /// <summary>holder → csidriver: the request was not understood; the ticket field says why.</summary>
    Refused = 0xFF,
}

/// <summary>
/// One message of the session holder's protocol on its SOCK_SEQPACKET socket (one message per
/// packet; see docs/formats.md): version (1 byte), kind (1), name length (2, little-endian),
/// name (UTF-8), ticket length (2), ticket (opaque bytes the holder stores and returns
/// unread). A descriptor travels beside Hold and Entry as SCM_RIGHTS.
/// </summary>
public sealed record HolderMessage(HolderMessageKind Kind, string Name, byte[] Ticket)
{
    public const byte Version = 1;

    private const int MaxField = ushort.MaxValue;

    public HolderMessage(HolderMessageKind kind, string name = "")
        : this(kind, name, [])
    {
    }

    public byte[] Encode()
    {
        var name = Encoding.UTF8.GetBytes(Name);
        if (name.Length > MaxField || Ticket.Length > MaxField)
        {
            throw new ArgumentException("a session holder message field is longer than 65535 bytes");
        }
        var message = new byte[2 + 2 + name.Length + 2 + Ticket.Length];
        message[0] = Version;
        message[1] = (byte)Kind;
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(2), (ushort)name.Length);
        name.CopyTo(message, 4);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4 + name.Length), (ushort)Ticket.Length);
        Ticket.CopyTo(message, 6 + name.Length);
        return message;
    }

    /// <summary>The message in <paramref name="bytes"/>, or null when it is malformed or of another version.</summary>
    public static HolderMessage? TryDecode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 6 || bytes[0] != Version || !Enum.IsDefined((HolderMessageKind)bytes[1]))
        {
            return null;
        }
        var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[2..]);
        if (bytes.Length < 6 + nameLength)
        {
            return null;
        }
        var ticketLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[(4 + nameLength)..]);
        if (bytes.Length != 6 + nameLength + ticketLength)
        {
            return null;
        }
        return new HolderMessage((HolderMessageKind)bytes[1], Encoding.UTF8.GetString(bytes.Slice(4, nameLength)),
            bytes.Slice(6 + nameLength, ticketLength).ToArray());
    }
}
