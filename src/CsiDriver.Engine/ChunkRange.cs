namespace CsiDriver.Engine;

/// <summary>
/// A byte range of a volume or snapshot made of whole chunks: the unit of snapshots,
/// copy-on-write and changed-block tracking (a range of a <see cref="SnapshotDelta"/>
/// taken from the journal is made of whole 4 KiB blocks instead).
/// </summary>
/// <remarks>
/// Why 64 KiB chunks: a snapshot's map costs one bit per chunk (a 100 GiB volume: 1.6 M chunks,
/// 200 KiB of map), and the first write to a chunk after a snapshot copies one chunk, so a 4 KiB
/// write costs at most 64 KiB of copy once per chunk per snapshot. Smaller chunks would make
/// deltas (resync, changed blocks) finer but maps and lookups bigger; larger ones would make
/// the copy on first write and the delta granularity coarser. 64 KiB matches common filesystem
/// allocation clusters and the size of a typical database extent.
/// </remarks>
public readonly record struct ChunkRange(long Offset, long Length)
{
    public const int ChunkSize = 64 << 10;

    public long End => Offset + Length;

    /// <summary>Turns ascending indexes of units of <paramref name="unit"/> bytes (chunks unless
    /// told) into ranges, merging neighbours, clipped to <paramref name="sizeBytes"/>.</summary>
    internal static IEnumerable<ChunkRange> Coalesce(IEnumerable<long> ascendingChunks, long sizeBytes, int unit = ChunkSize)
    {
        long start = -1, next = -1;
        foreach (var chunk in ascendingChunks)
        {
            if (chunk * unit >= sizeBytes)
            {
                break;
            }
            if (chunk != next)
            {
                if (start >= 0)
                {
                    yield return Clip(start, next, sizeBytes, unit);
                }
                start = chunk;
            }
            next = chunk + 1;
        }
        if (start >= 0)
        {
            yield return Clip(start, next, sizeBytes, unit);
        }
    }

    private static ChunkRange Clip(long first, long end, long sizeBytes, int unit)
    {
        var offset = first * unit;
        return new ChunkRange(offset, Math.Min(end * unit, sizeBytes) - offset);
    }
}
