using System.Buffers.Binary;
using CsiDriver.Engine;

namespace CsiDriver.TestSupport.Consistency;

/// <summary>Which half of a transaction a record is: the primary write (volume A) or its mirror
/// (volume B), written only after the primary was acknowledged.</summary>
public enum TransactionSide : byte
{
    Primary = 1,
    Mirror = 2,
}

/// <summary>What <see cref="TransactionRecord.TryParse"/> found in one slot.</summary>
public enum RecordState
{
    /// <summary>All zeroes: never written.</summary>
    Empty,
    Valid,
    /// <summary>Not zero, but no intact record: a torn or damaged write, or foreign data.</summary>
    Corrupt,
}

/// <summary>
/// The on-device record of the atomicity workload: one per transaction and side, each exactly one
/// 4 KiB block so a record is a single block write. Layout (little endian):
/// <code>
///   0  u64  magic "FTXNREC\0"
///   8  u16  version
///  10  u16  minimum compatible version
///  12  u8   side (1 primary, 2 mirror)
///  13  u8[3] zero
///  16  i64  transaction number (≥ 1)
///  24  ...  filler derived from the number and side, so a block mixing two records fails the checksum
/// 4092 u32  CRC-32C of bytes [0, 4092)
/// </code>
/// Invariant on the device: each record is written as one aligned 4 KiB block, so every slot
/// holds zeroes, one intact record, or (a torn or damaged write) a block that fails its checksum;
/// never a block that parses as a record it was not written as.
/// </summary>
public readonly record struct TransactionRecord(TransactionSide Side, long Transaction)
{
    public const int Size = 4096;
    public const ulong Magic = 0x00_43_45_52_4E_58_54_46; // "FTXNREC\0" read little endian
    public const ushort Version = 1;
    public const ushort MinimumCompatibleVersion = 1;

    private const int ChecksumOffset = Size - sizeof(uint);
    private const int FillerOffset = 24;

    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"a transaction record needs {Size} bytes", nameof(destination));
        }
        if (Transaction < 1)
        {
            throw new InvalidOperationException("transaction numbers start at 1");
        }
        var block = destination[..Size];
        block[..FillerOffset].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(block, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(block[8..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(block[10..], MinimumCompatibleVersion);
        block[12] = (byte)Side;
        BinaryPrimitives.WriteInt64LittleEndian(block[16..], Transaction);
        var filler = (ulong)Transaction * 0x9E3779B97F4A7C15UL ^ (byte)Side;
        for (var offset = FillerOffset; offset + sizeof(ulong) <= ChecksumOffset; offset += sizeof(ulong))
        {
            BinaryPrimitives.WriteUInt64LittleEndian(block[offset..], filler);
            filler = filler * 6364136223846793005UL + 1442695040888963407UL;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(block[ChecksumOffset..], Crc32C.Compute(block[..ChecksumOffset]));
    }

    /// <summary>Classifies one <see cref="Size"/>-byte block; <paramref name="record"/> is set only
    /// for <see cref="RecordState.Valid"/>.</summary>
    public static RecordState TryParse(ReadOnlySpan<byte> source, out TransactionRecord record)
    {
        record = default;
        if (source.Length < Size)
        {
            return RecordState.Corrupt;
        }
        var block = source[..Size];
        if (!block.ContainsAnyExcept((byte)0))
        {
            return RecordState.Empty;
        }
        if (BinaryPrimitives.ReadUInt64LittleEndian(block) != Magic
            || BinaryPrimitives.ReadUInt32LittleEndian(block[ChecksumOffset..]) != Crc32C.Compute(block[..ChecksumOffset])
            || BinaryPrimitives.ReadUInt16LittleEndian(block[10..]) > Version)
        {
            return RecordState.Corrupt;
        }
        var side = (TransactionSide)block[12];
        var transaction = BinaryPrimitives.ReadInt64LittleEndian(block[16..]);
        if (side is not (TransactionSide.Primary or TransactionSide.Mirror) || transaction < 1)
        {
            return RecordState.Corrupt;
        }
        record = new TransactionRecord(side, transaction);
        return RecordState.Valid;
    }
}
