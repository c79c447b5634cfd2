using CsiDriver.Engine;
using CsiDriver.Engine.Journal;
using CsiDriver.Replication;

namespace CsiDriver.Replication.Tests;

public sealed class ChunkSetBuilderTests
{
    private const int Chunk = ChunkRange.ChunkSize;

    [Fact]
    public void Chunks_from_ranges_and_records_merge_into_ascending_ranges_clipped_to_the_size()
    {
        var plan = new ChunkSetBuilder();
        plan.Add("a", new ChunkRange(0, Chunk));
        plan.Add(new JournalRecord(1, JournalRecordKind.Write, 1, "a", Chunk + 100, 10, 0, new byte[10]), new HashSet<string> { "a" });
        plan.Add(new JournalRecord(2, JournalRecordKind.Trim, 1, "a", 5 * Chunk - 1, 2, 0, default), new HashSet<string> { "a" });
        plan.Add(new JournalRecord(3, JournalRecordKind.Write, 2, "b", 0, 10, 0, new byte[10]), new HashSet<string> { "a" });
        plan.Add(new JournalRecord(4, JournalRecordKind.Snapshot, 1, "a", 0, 0, 0, default), new HashSet<string> { "a" });

        Assert.Equal([new ChunkRange(0, 2 * Chunk), new ChunkRange(4 * Chunk, 2 * Chunk)], plan.Ranges("a", 10 * Chunk));
        Assert.Equal([new ChunkRange(0, 2 * Chunk), new ChunkRange(4 * Chunk, Chunk / 2)], plan.Ranges("a", 4 * Chunk + Chunk / 2));
        Assert.Empty(plan.Ranges("b", 10 * Chunk));
        Assert.Equal(4, plan.Count);
        Assert.False(plan.NeedsEverything);
    }

    [Fact]
    public void A_record_it_cannot_read_asks_for_everything()
    {
        var plan = new ChunkSetBuilder();
        plan.Add(new JournalRecord(1, JournalRecordKind.ReplicaBatch, 0, "a", 0, 0, 0, default), new HashSet<string> { "a" });
        Assert.True(plan.NeedsEverything);
        var other = new ChunkSetBuilder();
        other.UnionWith(plan);
        Assert.True(other.NeedsEverything);
    }
}
