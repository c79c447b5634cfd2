using CsiDriver.Engine.Journal;

namespace CsiDriver.Engine.Tests;

public sealed partial class StorageEngineTests
{
    private static readonly EngineOptions SmallJournal = Manual with { SegmentBytes = 64 << 10, RetentionBudgetBytes = 512 << 10 };

    [Fact]
    public void RecordsAreKeptForAConsumerUntilItPassesThem()
    {
        using var engine = Open(SmallJournal);
        var volume = engine.CreateVolume("v", 64 * Chunk, "g");
        var consumer = engine.RegisterJournalConsumer(engine.Group("g"), "shipper");
        Assert.Same(consumer, engine.RegisterJournalConsumer(engine.Group("g"), "shipper"));
        var start = consumer.Position;
        for (var i = 0; i < 40; i++)
        {
            Bytes.Write(volume, i * 4096L, Bytes.Pattern(4096, i));
        }
        engine.Checkpoint();
        var records = engine.ReadJournal(engine.Group("g"), start + 1).ToList();
        Assert.Equal(40, records.Count);
        Assert.Equal(Enumerable.Range(0, 40).Select(i => start + 1 + i), records.Select(r => r.Sequence));
        Assert.All(records, r => Assert.Equal(("v", JournalRecordKind.Write), (r.VolumeId!, r.Kind)));
        Assert.Equal(Bytes.Pattern(4096, 7), records[7].Payload.ToArray());
        // Without payloads: the same records and what they changed, none of their bytes.
        var changes = engine.ReadJournal(engine.Group("g"), start + 1, payloads: false).ToList();
        Assert.Equal(records.Select(r => (r.Sequence, r.Kind, r.Offset, r.Length)), changes.Select(r => (r.Sequence, r.Kind, r.Offset, r.Length)));
        Assert.All(changes, r => Assert.True(r.Payload.IsEmpty));

        engine.AdvanceJournalConsumer(engine.Group("g"), "shipper", records[^1].Sequence);
        engine.Checkpoint();
        var status = engine.GetJournalStatus(engine.Group("g"));
        Assert.True(status.FirstSequence > start + 1);
        Assert.Throws<OutOfRangeException>(() => engine.ReadJournal(engine.Group("g"), start + 1).ToList());
        Assert.Equal(status.LastSequence, status.CheckpointSequence);
        Assert.Equal(status.LastSequence, status.DurableSequence);
    }

    [Fact]
    public void PastTheBudgetALaggingConsumerIsOverrunAndReported()
    {
        using var engine = Open(SmallJournal);
        var volume = engine.CreateVolume("v", 64 * Chunk, "g");
        engine.RegisterJournalConsumer(engine.Group("g"), "shipper");
        var events = new List<RetentionBudgetExceededEventArgs>();
        engine.RetentionBudgetExceeded += (_, e) => events.Add(e);
        for (var i = 0; i < 200; i++)
        {
            Bytes.Write(volume, i % 64 * 4096L, Bytes.Pattern(4096, i));
        }
        Assert.True(engine.GetJournalStatus(engine.Group("g")).OverBudget);
        engine.Checkpoint();
        var status = engine.GetJournalStatus(engine.Group("g"));
        Assert.False(status.OverBudget);
        Assert.True(Assert.Single(status.Consumers).Overrun);
        var reported = Assert.Single(events);
        Assert.Equal((volume.Group, "shipper"), (reported.Group, reported.Consumer));
        Assert.True(reported.ReleasedThrough > reported.ConsumerPosition);
        engine.Dispose();
        using var reopened = Open(SmallJournal);
        Assert.True(Assert.Single(reopened.GetJournalStatus(reopened.Group("g")).Consumers).Overrun);
    }

    [Fact]
    public void AJournalsOwnBudgetOverridesTheEnginesDefault()
    {
        // 200 writes of 4 KiB stay within the default 4 GiB; the group's own 256 KiB does not.
        using var engine = Open(Manual with { SegmentBytes = 64 << 10 });
        var volume = engine.CreateVolume("v", 64 * Chunk, "g");
        engine.RegisterJournalConsumer(engine.Group("g"), "shipper");
        Assert.Throws<OutOfRangeException>(() => engine.SetJournalRetentionBudget(engine.Group("g"), 0));
        engine.SetJournalRetentionBudget(engine.Group("g"), 256 << 10);
        for (var i = 0; i < 200; i++)
        {
            Bytes.Write(volume, i % 64 * 4096L, Bytes.Pattern(4096, i));
        }
        Assert.Equal(256 << 10, engine.GetJournalStatus(engine.Group("g")).RetentionBudgetBytes);
        engine.Checkpoint();
        var status = engine.GetJournalStatus(engine.Group("g"));
        Assert.True(Assert.Single(status.Consumers).Overrun);
        Assert.True(status.RetainedBytes <= 256 << 10, $"{status.RetainedBytes} retained");

        engine.SetJournalRetentionBudget(engine.Group("g"), null);
        Assert.Equal(Manual.RetentionBudgetBytes, engine.GetJournalStatus(engine.Group("g")).RetentionBudgetBytes);
    }

    [Fact]
    public async Task ConcurrentFlushesShareSyncsAndAllBecomeDurable()
    {
        using var engine = Open();
        var volume = engine.CreateVolume("v", 64 * Chunk);
        var group = volume.Group;
        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(async () =>
        {
            await volume.WriteAsync(i * 4096L, Bytes.Pattern(4096, i), fua: i % 2 == 0);
            await volume.FlushAsync();
        })));
        var status = engine.GetJournalStatus(group);
        Assert.Equal(64, status.LastSequence);
        Assert.Equal(64, status.DurableSequence);
    }
}
