namespace CsiDriver.Engine;

/// <summary>
/// What changed between two snapshots (<see cref="StorageEngine.ChangedBlocks"/>): ascending,
/// merged, non-overlapping byte ranges within <see cref="SizeBytes"/>, each made of whole units of
/// <see cref="BlockSize"/> (clipped at the end). Never misses a byte that was written between
/// the two cuts. <see cref="BlockSize"/> tells which answer it is:
/// <list type="bullet">
/// <item><see cref="JournalBlockSize"/> (4 KiB): read from the journal's records between the two
/// cuts, so exactly the blocks written, trimmed or zeroed between them (a block written again
/// with the bytes it held is listed too).</item>
/// <item><see cref="ChunkRange.ChunkSize"/> (64 KiB): read from the layers' chunk maps, so exactly
/// the chunks written between them; <see cref="Why"/> says why the journal could not refine it.</item>
/// </list>
/// </summary>
/// <param name="SizeBytes">The larger of the two snapshots' sizes.</param>
/// <param name="Why">Why the answer is per chunk, not per block; null when per block.</param>
/// <param name="SharesHistory">False when the two snapshots share no layer (a volume deleted and
/// created again under the same id): then every allocated chunk of either is listed.</param>
public sealed record SnapshotDelta(long SizeBytes, int BlockSize, IReadOnlyList<ChunkRange> Ranges, string? Why, bool SharesHistory)
{
    /// <summary>The journal's unit: NBD and file systems write whole 4 KiB blocks.</summary>
    public const int JournalBlockSize = 4096;

    public long ChangedBytes => Ranges.Sum(r => r.Length);
}
