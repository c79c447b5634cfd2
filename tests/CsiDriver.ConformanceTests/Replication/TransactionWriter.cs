using CsiDriver.TestSupport;
using CsiDriver.TestSupport.Consistency;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>
/// Continues the atomicity workload's transactions by hand at whichever site is primary now:
/// for each n, the primary record, then (after its acknowledgement) the mirror record, through
/// that site's NBD socket; the last one with FUA. Used where a test needs to know exactly which
/// transactions (hence which ring slots and chunks) a site wrote.
/// </summary>
public static class TransactionWriter
{
    public static async Task WriteAsync(string nbdSocket, string primaryId, string mirrorId, long first, int count)
    {
        var layout = ReplicatedGroup.Layout;
        await using var primary = await NbdBlockDevice.OpenAsync(nbdSocket, primaryId);
        await using var mirror = await NbdBlockDevice.OpenAsync(nbdSocket, mirrorId);
        var block = new byte[TransactionRecord.Size];
        for (var n = first; n < first + count; n++)
        {
            var last = n == first + count - 1;
            new TransactionRecord(TransactionSide.Primary, n).Write(block);
            await primary.WriteAsync(layout.OffsetOf(n), block, fua: last);
            new TransactionRecord(TransactionSide.Mirror, n).Write(block);
            await mirror.WriteAsync(layout.OffsetOf(n), block, fua: last);
        }
    }

    /// <summary>The 64 KiB chunks (by index) the ring slots of transactions [first, last] fall in.</summary>
    public static IReadOnlySet<long> ChunksOf(long first, long last) =>
        Enumerable.Range(0, (int)Math.Max(0, last - first + 1))
            .Select(i => ReplicatedGroup.Layout.OffsetOf(first + i) / Engine.ChunkRange.ChunkSize)
            .ToHashSet();
}
