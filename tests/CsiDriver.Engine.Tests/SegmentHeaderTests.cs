using CsiDriver.Engine.Journal;

namespace CsiDriver.Engine.Tests;

public sealed class SegmentHeaderTests
{
    [Fact]
    public void RoundTripsAndDetectsDamage()
    {
        var bytes = new byte[JournalFormat.SegmentHeaderSize];
        var header = new SegmentHeader(3, 1001, 42);
        header.Write(bytes);
        Assert.True(SegmentHeader.TryParse(bytes, out var parsed, out _));
        Assert.Equal(header, parsed);
        bytes[17] ^= 4;
        Assert.False(SegmentHeader.TryParse(bytes, out _, out var error));
        Assert.Contains("checksum", error);
    }

    [Fact]
    public void SegmentFileNamesParseBack()
    {
        Assert.Equal("journal-000042.seg", JournalFormat.SegmentFileName(42));
        Assert.True(JournalFormat.TryParseSegmentNumber("journal-000042.seg", out var number));
        Assert.Equal(42, number);
        Assert.False(JournalFormat.TryParseSegmentNumber("journal-x.seg", out _));
    }
}
