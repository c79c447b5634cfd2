using System.Buffers.Binary;
using CsiDriver.Engine.Journal;

namespace CsiDriver.Engine.Replication;

/// <summary>
/// Payload of a ReplicaBatch journal record: a whole batch of main-site updates and the
/// position it brings the replica group to, so that one record (one CRC) makes all of it
/// durable or none of it. Little-endian:
/// <code>
/// [0,2) version 1  [2,4) minimum compatible version 1  [4,8) update count N
/// [8,16) after sequence  [16,24) last sequence  [24,32) source time of the last sequence (unix µs)
/// then N updates, each a 28-byte header and its data:
///   [0,4) volume number (the backup's own)  [4] kind (1 write, 2 trim, 3 write-zeroes, 6 resize)
///   [5,8) reserved (zero)  [8,16) offset  [16,24) length (new size for resize)
///   [24,28) data length (= length for write, 0 otherwise)  [28,..) data
/// </code>
/// The journal record's CRC-32C (header bytes [0,52) then this payload) covers it; the whole
/// payload is bounded by <see cref="JournalFormat.MaxPayload"/>.
/// </summary>
internal static class ReplicaBatchRecord
{
    public const ushort Version = 1;
    public const ushort MinCompatibleVersion = 1;
    public const int HeaderSize = 32;
    public const int UpdateHeaderSize = 28;

    /// <summary>Bytes the payload takes for these updates (data lengths included).</summary>
    public static long SizeOf(IEnumerable<ReplicaUpdate> updates) =>
        HeaderSize + updates.Sum(u => UpdateHeaderSize + (long)u.Payload.Length);

    /// <summary>Bytes the batch header and the updates' headers take: <see cref="Gather"/>'s
    /// <c>headers</c> buffer.</summary>
    public static int HeadersSize(int updates) => HeaderSize + updates * UpdateHeaderSize;

    /// <summary>The most pieces <see cref="Gather"/> makes of a batch of <paramref name="updates"/>.</summary>
    public static int MaxPieces(int updates) => 1 + 2 * updates;

    /// <summary>The payload as the pieces it is made of, in order, into <paramref name="pieces"/>;
    /// returns how many. The headers (the batch's, each update's) are written into
    /// <paramref name="headers"/> (<see cref="HeadersSize"/> bytes) and the pieces point there;
    /// each update's data is its own buffer, not copied: the journal writes them as one gathered
    /// record. <paramref name="volumeNumbers"/> gives the backup's volume number of each update.</summary>
    public static int Gather(ReplicaBatch batch, IReadOnlyList<uint> volumeNumbers, byte[] headers, ReadOnlyMemory<byte>[] pieces)
    {
        var span = headers.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(span, Version);
        BinaryPrimitives.WriteUInt16LittleEndian(span[2..], MinCompatibleVersion);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], batch.Updates.Count);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], batch.AfterSequence);
        BinaryPrimitives.WriteInt64LittleEndian(span[16..], batch.LastSequence);
        BinaryPrimitives.WriteInt64LittleEndian(span[24..], batch.SourceTimestampMicros);
        var count = 0;
        pieces[count++] = headers.AsMemory(0, HeaderSize);
        var at = HeaderSize;
        for (var i = 0; i < batch.Updates.Count; i++)
        {
            var update = batch.Updates[i];
            var entry = span.Slice(at, UpdateHeaderSize);
            BinaryPrimitives.WriteUInt32LittleEndian(entry, volumeNumbers[i]);
            entry[4] = (byte)update.Kind;
            entry[5..8].Clear(); // reserved; the buffer may be a reused one
            BinaryPrimitives.WriteInt64LittleEndian(entry[8..], update.Offset);
            BinaryPrimitives.WriteInt64LittleEndian(entry[16..], update.Length);
            BinaryPrimitives.WriteInt32LittleEndian(entry[24..], update.Payload.Length);
            pieces[count++] = headers.AsMemory(at, UpdateHeaderSize);
            if (!update.Payload.IsEmpty)
            {
                pieces[count++] = update.Payload;
            }
            at += UpdateHeaderSize;
        }
        return count;
    }

    /// <summary>Checks the whole payload (every update's bounds and kind) before anything is
    /// handed out, so a reader never acts on part of a malformed batch.</summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out ReplicaBatchReader reader, out string error)
    {
        reader = default;
        if (payload.Length < HeaderSize)
        {
            error = "replica batch shorter than its header";
            return false;
        }
        var minCompatible = BinaryPrimitives.ReadUInt16LittleEndian(payload[2..]);
        if (minCompatible > Version)
        {
            error = $"replica batch needs reader version {minCompatible}; this reader is {Version}";
            return false;
        }
        var count = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
        var rest = payload[HeaderSize..];
        for (var i = 0; i < count; i++)
        {
            if (rest.Length < UpdateHeaderSize)
            {
                error = $"replica batch ends inside update {i}";
                return false;
            }
            var kind = (JournalRecordKind)rest[4];
            var dataLength = BinaryPrimitives.ReadInt32LittleEndian(rest[24..]);
            if (!IsUpdateKind(kind) || dataLength < 0 || dataLength > rest.Length - UpdateHeaderSize)
            {
                error = $"replica batch update {i}: kind {(int)kind} or data length {dataLength} is invalid";
                return false;
            }
            rest = rest[(UpdateHeaderSize + dataLength)..];
        }
        if (count < 0 || !rest.IsEmpty)
        {
            error = $"replica batch of {count} updates has {rest.Length} bytes left over";
            return false;
        }
        reader = new ReplicaBatchReader(
            BinaryPrimitives.ReadInt64LittleEndian(payload[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(payload[16..]),
            BinaryPrimitives.ReadInt64LittleEndian(payload[24..]),
            payload[HeaderSize..]);
        error = "";
        return true;
    }

    public static bool IsUpdateKind(JournalRecordKind kind) =>
        kind is JournalRecordKind.Write or JournalRecordKind.Trim or JournalRecordKind.WriteZeroes or JournalRecordKind.Resize;
}

/// <summary>One update of a parsed batch; <see cref="Data"/> points into the record's payload.</summary>
internal readonly ref struct ReplicaBatchEntry(uint volumeNumber, JournalRecordKind kind, long offset, long length, ReadOnlySpan<byte> data)
{
    public uint VolumeNumber { get; } = volumeNumber;

    public JournalRecordKind Kind { get; } = kind;

    public long Offset { get; } = offset;

    public long Length { get; } = length;

    public ReadOnlySpan<byte> Data { get; } = data;
}

/// <summary>Walks the updates of a batch that <see cref="ReplicaBatchRecord.TryParse"/> checked.</summary>
internal ref struct ReplicaBatchReader(long afterSequence, long lastSequence, long sourceTimestampMicros, ReadOnlySpan<byte> updates)
{
    private ReadOnlySpan<byte> _rest = updates;

    public long AfterSequence { get; } = afterSequence;

    public long LastSequence { get; } = lastSequence;

    public long SourceTimestampMicros { get; } = sourceTimestampMicros;

    public bool TryNext(out ReplicaBatchEntry entry)
    {
        if (_rest.IsEmpty)
        {
            entry = default;
            return false;
        }
        var dataLength = BinaryPrimitives.ReadInt32LittleEndian(_rest[24..]);
        entry = new ReplicaBatchEntry(
            BinaryPrimitives.ReadUInt32LittleEndian(_rest),
            (JournalRecordKind)_rest[4],
            BinaryPrimitives.ReadInt64LittleEndian(_rest[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(_rest[16..]),
            _rest.Slice(UpdateHeaderSizeOf, dataLength));
        _rest = _rest[(UpdateHeaderSizeOf + dataLength)..];
        return true;
    }

    private const int UpdateHeaderSizeOf = ReplicaBatchRecord.UpdateHeaderSize;
}
