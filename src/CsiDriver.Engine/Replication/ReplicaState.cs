using System.Buffers.Binary;
using System.Text.Json.Serialization;

namespace CsiDriver.Engine.Replication;

/// <summary>
/// A replica group's state: how far it applied the main site's journal and whether it is being
/// resynchronised. Held per consistency group in memory; made durable by the journal records
/// that change it (every ReplicaBatch record carries the new position, every ReplicaState
/// record the whole state) and by the checkpoint document, which stores it per journal at the
/// checkpoint's cut, so it survives when the records before the checkpoint are released.
/// Recovery starts from the checkpoint's value (its five fields as JSON in the checkpoint
/// document) and replays the records after it.
/// <para>Payload of a ReplicaState journal record (40 bytes, little-endian):</para>
/// <code>
/// [0,2) version 1   [2,4) minimum compatible version 1   [4,8) flags: bit 0 resyncing
/// [8,16) source sequence     [16,24) source time (main-site unix µs)
/// [24,32) protected sequence [32,40) protected time
/// </code>
/// The journal record's CRC-32C (header bytes [0,52) then this payload) covers it.
/// </summary>
/// <param name="ProtectedSequence">While resyncing: the position the group had when the resync
/// began, which the protective snapshots hold and an abort returns to.</param>
internal readonly record struct ReplicaState(
    long SourceSequence, long SourceTimestampMicros, bool Resyncing, long ProtectedSequence, long ProtectedTimestampMicros)
{
    public const int Size = 40;
    public const ushort Version = 1;
    public const ushort MinCompatibleVersion = 1;

    [JsonIgnore]
    public ReplicaPosition Position => new(SourceSequence, SourceTimestampMicros, Resyncing);

    public void Write(Span<byte> bytes)
    {
        bytes[..Size].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(bytes, Version);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[2..], MinCompatibleVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[4..], Resyncing ? 1u : 0u);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[8..], SourceSequence);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[16..], SourceTimestampMicros);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[24..], ProtectedSequence);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[32..], ProtectedTimestampMicros);
    }

    public byte[] ToBytes()
    {
        var bytes = new byte[Size];
        Write(bytes);
        return bytes;
    }

    public static bool TryParse(ReadOnlySpan<byte> bytes, out ReplicaState state, out string error)
    {
        state = default;
        if (bytes.Length != Size)
        {
            error = $"replica state of {bytes.Length} bytes, expected {Size}";
            return false;
        }
        var minCompatible = BinaryPrimitives.ReadUInt16LittleEndian(bytes[2..]);
        if (minCompatible > Version)
        {
            error = $"replica state needs reader version {minCompatible}; this reader is {Version}";
            return false;
        }
        state = new ReplicaState(
            BinaryPrimitives.ReadInt64LittleEndian(bytes[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]),
            (BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]) & 1) != 0,
            BinaryPrimitives.ReadInt64LittleEndian(bytes[24..]),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[32..]));
        error = "";
        return true;
    }
}
