using CsiDriver.Engine.Journal;

namespace CsiDriver.Engine.Tests;

/// <summary>Random damage to one journal segment, and which records it leaves whole: recovery
/// must replay every record before the first damaged one, in order, and nothing from it on.</summary>
internal static class JournalDamage
{
    /// <summary>Flips one bit of <paramref name="segment"/> or cuts the file short; returns the
    /// sequence of the first record the damage reaches (the segment's first when it hits the
    /// header, one past its last when it lies beyond every record).</summary>
    public static long Inflict(string segment, Random random)
    {
        var bytes = File.ReadAllBytes(segment);
        var damaged = (byte[])bytes.Clone();
        int first;
        if (random.Next(3) == 0)
        {
            first = random.Next(bytes.Length);
            Array.Resize(ref damaged, first);
        }
        else
        {
            first = random.Next(bytes.Length);
            damaged[first] ^= (byte)(1 << random.Next(8));
        }
        File.WriteAllBytes(segment, damaged);
        return FirstRecordReaching(bytes, first);
    }

    private static long FirstRecordReaching(byte[] segment, int offset)
    {
        Assert.True(SegmentHeader.TryParse(segment, out var header, out var error), error);
        var next = header.StartSequence;
        var position = JournalFormat.SegmentHeaderSize;
        while (position < segment.Length && offset >= position)
        {
            Assert.True(RecordHeader.TryParse(segment.AsSpan(position), out var record, out error), error);
            if (offset < position + record.TotalLength)
            {
                return record.Sequence;
            }
            position += record.TotalLength;
            next = record.Sequence + 1;
        }
        return next;
    }
}
