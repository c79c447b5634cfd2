using CsiDriver.TestSupport.Consistency;

namespace CsiDriver.Engine.Tests.Consistency;

public sealed class TransactionRecordTests
{
    [Fact]
    public void RoundTripsSideAndNumber()
    {
        var block = new byte[TransactionRecord.Size];
        new TransactionRecord(TransactionSide.Mirror, 123_456_789_012).Write(block);
        Assert.Equal(RecordState.Valid, TransactionRecord.TryParse(block, out var record));
        Assert.Equal(new TransactionRecord(TransactionSide.Mirror, 123_456_789_012), record);
    }

    [Fact]
    public void ZeroesAreEmpty() =>
        Assert.Equal(RecordState.Empty, TransactionRecord.TryParse(new byte[TransactionRecord.Size], out _));

    [Theory]
    [InlineData(0)]     // magic
    [InlineData(16)]    // transaction number
    [InlineData(2000)]  // filler
    [InlineData(4095)]  // checksum
    public void AnyFlippedBitIsCorrupt(int offset)
    {
        var block = new byte[TransactionRecord.Size];
        new TransactionRecord(TransactionSide.Primary, 7).Write(block);
        block[offset] ^= 0x10;
        Assert.Equal(RecordState.Corrupt, TransactionRecord.TryParse(block, out _));
    }

    [Fact]
    public void HalfOfOneRecordOverAnotherIsCorrupt()
    {
        var older = new byte[TransactionRecord.Size];
        var newer = new byte[TransactionRecord.Size];
        new TransactionRecord(TransactionSide.Primary, 5).Write(older);
        new TransactionRecord(TransactionSide.Primary, 69).Write(newer);
        newer.AsSpan(0, 2048).CopyTo(older);
        Assert.Equal(RecordState.Corrupt, TransactionRecord.TryParse(older, out _));
    }

    [Fact]
    public void NewerMinimumVersionIsRefused()
    {
        var block = new byte[TransactionRecord.Size];
        new TransactionRecord(TransactionSide.Primary, 1).Write(block);
        block[10] = TransactionRecord.Version + 1;
        // Re-seal so only the version differs from a valid record.
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(4092), Crc32C.Compute(block.AsSpan(0, 4092)));
        Assert.Equal(RecordState.Corrupt, TransactionRecord.TryParse(block, out _));
    }
}
