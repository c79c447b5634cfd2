using CsiDriver.Engine;
using CsiDriver.Replication;

namespace CsiDriver.Replication.Tests;

/// <summary>The plan of a catch-up kept up to date while the link is down: the chunks changed by
/// the records after the link's acknowledged position, read as they land.</summary>
public sealed class BacklogPlanTests : IDisposable
{
    private const string Consumer = "link";
    private static readonly HashSet<string> Shipped = new(StringComparer.Ordinal) { "mine" };

    private readonly string _directory = Directory.CreateTempSubdirectory("formation-backlog-").FullName;
    private readonly StorageEngine _engine;

    public BacklogPlanTests() => _engine = StorageEngine.Open(_directory);

    public void Dispose()
    {
        _engine.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task The_plan_names_the_chunks_written_after_the_acknowledged_position_and_the_resync_reads_on_after_it()
    {
        var mine = _engine.CreateVolume("mine", Volumes.Size, "g");
        var other = _engine.CreateVolume("other", Volumes.Size, "g");
        await WriteChunkAsync(mine, 0); // acknowledged before the outage
        _engine.RegisterJournalConsumer(mine.Group, Consumer, _engine.GetJournalStatus(mine.Group).LastSequence);
        using var backlog = new BacklogPlan(_engine, mine.Group, Consumer, Shipped, startBytes: 0);

        await WriteChunkAsync(mine, 3);
        await WriteChunkAsync(other, 5); // another volume of the group: not shipped by this link
        backlog.ReadOn(); // between two reconnect attempts
        await WriteChunkAsync(mine, 7);
        await mine.TrimAsync(9 * ChunkRange.ChunkSize + 4096, 4096);
        backlog.ReadOn();
        var last = _engine.GetJournalStatus(mine.Group).LastSequence;

        var plan = new ChunkSetBuilder();
        var acknowledged = _engine.GetJournalStatus(mine.Group).Consumers.Single(c => c.Name == Consumer).Position;
        var readOnFrom = backlog.AddTo(plan, acknowledged + 1);

        Assert.Equal(last + 1, readOnFrom);
        Assert.Equal(
            [new ChunkRange(3 * ChunkRange.ChunkSize, ChunkRange.ChunkSize), new ChunkRange(7 * ChunkRange.ChunkSize, ChunkRange.ChunkSize), new ChunkRange(9 * ChunkRange.ChunkSize, ChunkRange.ChunkSize)],
            plan.Ranges("mine", Volumes.Size));
        Assert.Empty(plan.Ranges("other", Volumes.Size));
    }

    [Fact]
    public async Task A_plan_begun_after_the_receivers_position_is_not_used()
    {
        var mine = _engine.CreateVolume("mine", Volumes.Size, "g");
        _engine.RegisterJournalConsumer(mine.Group, Consumer, 0);
        await WriteChunkAsync(mine, 1);
        _engine.AdvanceJournalConsumer(mine.Group, Consumer, _engine.GetJournalStatus(mine.Group).LastSequence);
        using var backlog = new BacklogPlan(_engine, mine.Group, Consumer, Shipped, startBytes: 0);
        await WriteChunkAsync(mine, 2);
        backlog.ReadOn();

        // The receiver's answer: it applied nothing (an ack was lost); the plan starts too late for it.
        var plan = new ChunkSetBuilder();
        Assert.Equal(1, backlog.AddTo(plan, 1));
        Assert.Empty(plan.Ranges("mine", Volumes.Size));
    }

    [Fact]
    public async Task A_short_backlog_is_not_planned_and_a_shipped_one_is_planned_again_from_the_new_position()
    {
        var mine = _engine.CreateVolume("mine", Volumes.Size, "g");
        _engine.RegisterJournalConsumer(mine.Group, Consumer, 0);
        using var backlog = new BacklogPlan(_engine, mine.Group, Consumer, Shipped, startBytes: 3 * ChunkRange.ChunkSize / 2);
        await WriteChunkAsync(mine, 1);
        backlog.ReadOn();
        Assert.Equal(0, backlog.From);

        await WriteChunkAsync(mine, 2);
        backlog.ReadOn();
        Assert.Equal(1, backlog.From);

        var shipped = _engine.GetJournalStatus(mine.Group).LastSequence;
        _engine.AdvanceJournalConsumer(mine.Group, Consumer, shipped);
        backlog.Restart();
        await WriteChunkAsync(mine, 4);
        var plan = new ChunkSetBuilder();
        Assert.Equal(shipped + 2, backlog.AddTo(plan, shipped + 1));
        Assert.Equal([new ChunkRange(4 * ChunkRange.ChunkSize, ChunkRange.ChunkSize)], plan.Ranges("mine", Volumes.Size));
    }

    private static ValueTask WriteChunkAsync(IBlockDevice volume, int chunk) =>
        volume.WriteAsync(chunk * (long)ChunkRange.ChunkSize, new byte[ChunkRange.ChunkSize], fua: true);
}
