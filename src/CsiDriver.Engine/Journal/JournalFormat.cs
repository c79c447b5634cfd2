using System.Buffers.Binary;

namespace CsiDriver.Engine.Journal;

/// <summary>What a journal record says happened.</summary>
public enum JournalRecordKind : byte
{
    /// <summary>Payload: the bytes written at [Offset, Offset+Length).</summary>
    Write = 1,

    /// <summary>No payload: [Offset, Offset+Length) discarded.</summary>
    Trim = 2,

    /// <summary>No payload: [Offset, Offset+Length) reads as zeroes.</summary>
    WriteZeroes = 3,

    /// <summary>The volume entered or left the group here (payload: UTF-8 "join|leave &lt;other journal&gt;").</summary>
    Barrier = 4,

    /// <summary>A snapshot cut: every earlier record of the group is in it (payload: UTF-8 lines
    /// "&lt;volume number&gt; &lt;snapshot id&gt;").</summary>
    Snapshot = 5,

    /// <summary>No payload: the volume's size became Length.</summary>
    Resize = 6,

    /// <summary>A batch of main-site updates applied at the backup together with the replica
    /// position they bring the group to (volume number 0; payload: see
    /// <see cref="Replication.ReplicaBatchRecord"/>). One checksum covers the whole batch, so
    /// recovery applies all of it or none.</summary>
    ReplicaBatch = 7,

    /// <summary>The replica group's state changed outside a batch: a resync began, completed or
    /// was abandoned (volume number 0; payload: see <see cref="Replication.ReplicaStateRecord"/>).</summary>
    ReplicaState = 8,
}

/// <summary>
/// The journal's on-disk format, in one place. A group's journal is a directory of segment
/// files <c>journal-000001.seg</c>, <c>journal-000002.seg</c>, ... each a header followed by
/// records packed back to back. All integers little-endian.
/// <code>
/// Segment header (64 bytes)
/// [0,4) magic "FJSG"  [4,6) version  [6,8) min compatible version  [8,16) segment number
/// [16,24) sequence of the first record it may hold  [24,32) created (unix µs)
/// [32,60) reserved (zero)  [60,64) CRC-32C over [0,60)
///
/// Record (56-byte header + payload)
/// [0,4) magic "FJRC"  [4,8) total length (header + payload)  [8] kind  [9] flags (0)
/// [10,12) reserved  [12,16) volume number  [16,24) group sequence  [24,32) offset
/// [32,40) length (bytes affected; the new size for Resize)  [40,48) main-site time (unix µs)
/// [48,52) reserved  [52,56) CRC-32C over header bytes [0,52) followed by the payload
/// </code>
/// Sequences are contiguous within a group: each record's is the previous one's plus one.
/// Version 2 added the kinds ReplicaBatch (7) and ReplicaState (8); a version 1 reader would
/// cut the journal at the first of them. Version 3 reuses released segment files (spares,
/// <c>journal-000001.spare</c>, see GroupJournal.Spares.cs): a segment's records end where the
/// next segment's start sequence says, and the bytes after them may be records of the file's
/// earlier life, which a version 2 reader would take for a corrupt tail and cut the journal at,
/// so segments written now require version 3. Version 1 and 2 segments stay readable.
/// A record that fails its magic, length, checksum or sequence check ends the valid journal.
/// A stale record left from a reused file's earlier life never passes the sequence check: its
/// record is at or below a checkpoint that was durable when the file was released, and every
/// segment the file starts later begins above it (sequences at or below a durable checkpoint
/// are never issued again; those above it that a crash lost are, but only into files a cut
/// deleted, never into spares). The record's checksum covers its sequence.
/// </summary>
internal static class JournalFormat
{
    public const uint SegmentMagic = 0x47534A46; // "FJSG"
    public const uint RecordMagic = 0x43524A46;  // "FJRC"
    public const ushort Version = 3;
    public const ushort MinCompatibleVersion = 3;
    public const int SegmentHeaderSize = 64;
    public const int RecordHeaderSize = 56;

    /// <summary>Largest payload of one record; bigger writes are split.</summary>
    public const int MaxPayload = 32 << 20;

    private const string SegmentExtension = ".seg";
    private const string SpareExtension = ".spare";

    public static string SegmentFileName(long number) => $"journal-{number:D6}{SegmentExtension}";

    /// <summary>The name a released segment keeps while it waits to be reused.</summary>
    public static string SpareFileName(long number) => $"journal-{number:D6}{SpareExtension}";

    public static bool TryParseSegmentNumber(string fileName, out long number) => TryParseNumber(fileName, SegmentExtension, out number);

    public static bool TryParseSpareNumber(string fileName, out long number) => TryParseNumber(fileName, SpareExtension, out number);

    private static bool TryParseNumber(string fileName, string extension, out long number)
    {
        number = 0;
        return fileName.StartsWith("journal-", StringComparison.Ordinal)
            && fileName.EndsWith(extension, StringComparison.Ordinal)
            && long.TryParse(fileName.AsSpan(8, fileName.Length - 8 - extension.Length), out number);
    }
}

/// <param name="Version">The format version it was written in (a header is always written in the current one).</param>
internal readonly record struct SegmentHeader(long Number, long StartSequence, long CreatedMicros, ushort Version = JournalFormat.Version)
{
    public void Write(Span<byte> bytes)
    {
        bytes[..JournalFormat.SegmentHeaderSize].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, JournalFormat.SegmentMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[4..], JournalFormat.Version);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[6..], JournalFormat.MinCompatibleVersion);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[8..], Number);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[16..], StartSequence);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[24..], CreatedMicros);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[60..], Crc32C.Compute(bytes[..60]));
    }

    public static bool TryParse(ReadOnlySpan<byte> bytes, out SegmentHeader header, out string error)
    {
        header = default;
        if (bytes.Length < JournalFormat.SegmentHeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != JournalFormat.SegmentMagic)
        {
            error = "bad segment magic or short header";
            return false;
        }
        if (Crc32C.Compute(bytes[..60]) != BinaryPrimitives.ReadUInt32LittleEndian(bytes[60..]))
        {
            error = "segment header checksum mismatch";
            return false;
        }
        var minCompatible = BinaryPrimitives.ReadUInt16LittleEndian(bytes[6..]);
        if (minCompatible > JournalFormat.Version)
        {
            error = $"segment needs reader version {minCompatible}; this reader is {JournalFormat.Version}";
            return false;
        }
        header = new SegmentHeader(
            BinaryPrimitives.ReadInt64LittleEndian(bytes[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[24..]),
            BinaryPrimitives.ReadUInt16LittleEndian(bytes[4..]));
        error = "";
        return true;
    }
}

internal readonly record struct RecordHeader(
    JournalRecordKind Kind, uint VolumeNumber, long Sequence, long Offset, long Length, long TimestampMicros, int PayloadLength)
{
    public int TotalLength => JournalFormat.RecordHeaderSize + PayloadLength;

    /// <summary>Writes the header, checksumming it together with <paramref name="payload"/>.</summary>
    public void Write(Span<byte> bytes, ReadOnlySpan<byte> payload)
    {
        WriteFields(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[52..], Crc32C.Compute(bytes[..52], payload));
    }

    /// <summary>Writes the header, checksumming it together with the payload made of the
    /// buffers of <paramref name="payload"/> from index <paramref name="start"/> on, in order.</summary>
    public void Write(Span<byte> bytes, IReadOnlyList<ReadOnlyMemory<byte>> payload, int start)
    {
        WriteFields(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[52..], Crc32C.Compute(bytes[..52], payload, start));
    }

    private void WriteFields(Span<byte> bytes)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, JournalFormat.RecordMagic);
        BinaryPrimitives.WriteInt32LittleEndian(bytes[4..], TotalLength);
        bytes[8] = (byte)Kind;
        bytes[9] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[10..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[12..], VolumeNumber);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[16..], Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[24..], Offset);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[32..], Length);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[40..], TimestampMicros);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[48..], 0);
    }

    /// <summary>Parses the fixed header; the checksum needs the payload too, see <see cref="ChecksumMatches"/>.</summary>
    public static bool TryParse(ReadOnlySpan<byte> bytes, out RecordHeader header, out string error)
    {
        header = default;
        if (bytes.Length < JournalFormat.RecordHeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != JournalFormat.RecordMagic)
        {
            error = "bad record magic";
            return false;
        }
        var total = BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]);
        var kind = (JournalRecordKind)bytes[8];
        if (total < JournalFormat.RecordHeaderSize || total - JournalFormat.RecordHeaderSize > JournalFormat.MaxPayload
            || !Enum.IsDefined(kind))
        {
            error = $"bad record length {total} or kind {(int)kind}";
            return false;
        }
        header = new RecordHeader(
            kind,
            BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[24..]),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[32..]),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[40..]),
            total - JournalFormat.RecordHeaderSize);
        error = "";
        return true;
    }

    public static bool ChecksumMatches(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload) =>
        Crc32C.Compute(header[..52], payload) == BinaryPrimitives.ReadUInt32LittleEndian(header[52..]);
}
