using System.Text;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Layers;
using CsiDriver.Engine.Replication;

namespace CsiDriver.Engine;

/// <summary>
/// Changed-block tracking between two snapshots. The layers' chunk maps always tell the changed
/// chunks (<see cref="Catalog.ChangedChunks"/>). The journal refines that to 4 KiB blocks while
/// it still holds every record between the two cuts: each write, trim and write-zeroes of the
/// volume between them (at the backup site, inside replica batches) names its blocks. The
/// journal keeps records until a checkpoint has passed them (every 30 s or 256 MiB by default)
/// or, longer, while a consumer such as replication still needs them, so snapshots taken close
/// together, or of a replicated group, get the 4 KiB answer; any other pair gets the chunk answer.
/// </summary>
internal sealed partial class JournalConsumers
{
    /// <summary>The ranges changed from <paramref name="baseSnapshotId"/> to <paramref name="targetSnapshotId"/>, per 4 KiB block when the journal can tell, else per chunk (see <see cref="SnapshotDelta"/>).</summary>
    /// <exception cref="SnapshotNotFoundException">Either snapshot does not exist.</exception>
    public SnapshotDelta ChangedBlocks(string baseSnapshotId, string targetSnapshotId)
    {
        var plan = catalog.PlanDelta(baseSnapshotId, targetSnapshotId);
        if (plan.Chunks.Count == 0)
        {
            return new SnapshotDelta(plan.SizeBytes, SnapshotDelta.JournalBlockSize, [], null, plan.SharesHistory);
        }
        var why = plan.NoJournal;
        if (plan.Group is { } group)
        {
            try
            {
                var blocks = new ulong[WordsFor(BlocksOf(plan.SizeBytes))];
                IReadOnlyList<ChunkRange>? ranges = null;
                why = MarkWrittenBlocks(group, plan.Base, plan.Target, blocks) ?? Refine(plan, blocks, out ranges);
                if (why == null)
                {
                    return new SnapshotDelta(plan.SizeBytes, SnapshotDelta.JournalBlockSize, ranges!, null, true);
                }
            }
            catch (OutOfRangeException)
            {
                why = "the journal released records between the snapshots (a checkpoint passed them)";
            }
            catch (ObjectDisposedException)
            {
                why = "the volume's journal ended (the volume was deleted or moved)";
            }
        }
        return new SnapshotDelta(plan.SizeBytes, ChunkRange.ChunkSize, plan.Chunks, why, plan.SharesHistory);
    }

    /// <summary>
    /// Sets in <paramref name="blocks"/> every block the volume's records between the two cut
    /// records name; null when done, else why the journal cannot tell. The records must run
    /// unbroken from the base's cut record (which gives the volume's number) to the target's,
    /// with no group change or resync of the volume between them.
    /// </summary>
    private static string? MarkWrittenBlocks(ConsistencyGroup group, Snapshot baseline, Snapshot target, ulong[] blocks)
    {
        if (target.Sequence <= baseline.Sequence)
        {
            return "the target's cut is not after the base's in the journal";
        }
        uint? volume = null;
        foreach (var (header, payload) in group.Journal.Read(baseline.Sequence))
        {
            if (volume is not { } number)
            {
                volume = CutVolume(header, payload.Span, baseline.Id);
                if (volume == null)
                {
                    return "the journal's record at the base's cut is not that snapshot's";
                }
                continue;
            }
            if (header.Sequence == target.Sequence)
            {
                return CutVolume(header, payload.Span, target.Id) == number ? null : "the journal's record at the target's cut is not that snapshot's";
            }
            switch (header.Kind)
            {
                case JournalRecordKind.Write or JournalRecordKind.Trim or JournalRecordKind.WriteZeroes when header.VolumeNumber == number:
                    Mark(blocks, header.Offset, header.Length);
                    break;
                case JournalRecordKind.Barrier when header.VolumeNumber == number:
                    return "the volume changed consistency group between the snapshots";
                case JournalRecordKind.ReplicaState:
                    return "a resync began or ended between the snapshots";
                case JournalRecordKind.ReplicaBatch:
                    if (!ReplicaBatchRecord.TryParse(payload.Span, out var batch, out var error))
                    {
                        throw new CorruptionException($"journal '{group}': replica batch {header.Sequence}: {error}");
                    }
                    while (batch.TryNext(out var update))
                    {
                        if (update.VolumeNumber == number && update.Kind is JournalRecordKind.Write or JournalRecordKind.Trim or JournalRecordKind.WriteZeroes)
                        {
                            Mark(blocks, update.Offset, update.Length);
                        }
                    }
                    break;
            }
        }
        return "the journal ends before the target's cut";
    }

    /// <summary>The number of the volume a snapshot cut record names <paramref name="snapshotId"/> for, or null.</summary>
    private static uint? CutVolume(in RecordHeader header, ReadOnlySpan<byte> payload, string snapshotId)
    {
        if (header.Kind != JournalRecordKind.Snapshot)
        {
            return null;
        }
        foreach (var line in Encoding.UTF8.GetString(payload).Split('\n'))
        {
            var space = line.IndexOf(' ');
            if (space > 0 && line[(space + 1)..] == snapshotId && uint.TryParse(line.AsSpan(0, space), out var number))
            {
                return number;
            }
        }
        return null;
    }

    /// <summary>
    /// Keeps the marked blocks inside the changed chunks (a record written to a top a resync
    /// abandoned is in the journal but not in the chain) and checks the journal saw every changed
    /// chunk: a chunk held between the cuts with no record for it was written some other way,
    /// and then only the chunk answer is safe. Null with the block ranges, or why not.
    /// </summary>
    private static string? Refine(DeltaPlan plan, ulong[] blocks, out IReadOnlyList<ChunkRange>? ranges)
    {
        const int PerChunk = ChunkRange.ChunkSize / SnapshotDelta.JournalBlockSize;
        var kept = new ulong[blocks.Length];
        var limit = (long)blocks.Length * 64;
        foreach (var range in plan.Chunks)
        {
            for (var chunk = range.Offset / ChunkRange.ChunkSize; chunk * ChunkRange.ChunkSize < range.End; chunk++)
            {
                var seen = false;
                for (var block = chunk * PerChunk; block < Math.Min((chunk + 1) * PerChunk, limit); block++)
                {
                    var bit = 1UL << (int)(block & 63);
                    if ((blocks[block >> 6] & bit) != 0)
                    {
                        kept[block >> 6] |= bit;
                        seen = true;
                    }
                }
                if (!seen)
                {
                    ranges = null;
                    return $"chunk {chunk} changed with no journal record for it between the snapshots";
                }
            }
        }
        ranges = ChunkRange.Coalesce(ChunkMap.ChunksOf(kept), plan.SizeBytes, SnapshotDelta.JournalBlockSize).ToList();
        return null;
    }

    private static void Mark(ulong[] blocks, long offset, long length)
    {
        var end = Math.Min(BlocksOf(offset + length), (long)blocks.Length * 64);
        for (var block = offset / SnapshotDelta.JournalBlockSize; block < end; block++)
        {
            blocks[block >> 6] |= 1UL << (int)(block & 63);
        }
    }

    private static long BlocksOf(long bytes) => (bytes + SnapshotDelta.JournalBlockSize - 1) / SnapshotDelta.JournalBlockSize;

    private static long WordsFor(long bits) => (bits + 63) / 64;
}
