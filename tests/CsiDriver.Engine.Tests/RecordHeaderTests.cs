using CsiDriver.Engine.Journal;

namespace CsiDriver.Engine.Tests;

public sealed class RecordHeaderTests
{
    [Fact]
    public void RoundTripsEveryField()
    {
        var payload = Bytes.Pattern(100, 1);
        var header = new RecordHeader(JournalRecordKind.Write, 7, 123456789, 4096, 100, 1_700_000_000_000_000, payload.Length);
        var bytes = new byte[JournalFormat.RecordHeaderSize];
        header.Write(bytes, payload);
        Assert.True(RecordHeader.TryParse(bytes, out var parsed, out _));
        Assert.Equal(header, parsed);
        Assert.True(RecordHeader.ChecksumMatches(bytes, payload));
    }

    [Fact]
    public void ChecksumCoversHeaderAndPayload()
    {
        var payload = Bytes.Pattern(64, 2);
        var bytes = new byte[JournalFormat.RecordHeaderSize];
        new RecordHeader(JournalRecordKind.Trim, 1, 2, 3, 4, 5, payload.Length).Write(bytes, payload);
        payload[10] ^= 1;
        Assert.False(RecordHeader.ChecksumMatches(bytes, payload));
        payload[10] ^= 1;
        bytes[20] ^= 1;
        Assert.False(RecordHeader.ChecksumMatches(bytes, payload));
    }

    [Fact]
    public void RejectsBadMagicKindAndLength()
    {
        var bytes = new byte[JournalFormat.RecordHeaderSize];
        new RecordHeader(JournalRecordKind.Write, 1, 1, 0, 0, 0, 0).Write(bytes, []);
        var badKind = (byte[])bytes.Clone();
        badKind[8] = 99;
        var badLength = (byte[])bytes.Clone();
        badLength[7] = 0x7F;
        var badMagic = (byte[])bytes.Clone();
        badMagic[0] ^= 0xFF;
        Assert.False(RecordHeader.TryParse(badKind, out _, out _));
        Assert.False(RecordHeader.TryParse(badLength, out _, out _));
        Assert.False(RecordHeader.TryParse(badMagic, out _, out _));
    }
}
