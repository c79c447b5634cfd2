using CsiDriver.Engine.Replication;

namespace CsiDriver.Engine.Tests.Replication;

public sealed class ReplicaBatchBuilderTests : IDisposable
{
    private static readonly EngineOptions Manual = new() { BackgroundCheckpoints = false };
    private static readonly string[] Ids = ["sales", "stock"];
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task JoinedBatchesApplyAsOneRecordAndARecoveryReplaysThemWhole()
    {
        var model = new ReplicaModel(7, Ids);
        using (var engine = StorageEngine.Open(_directory.Path, Manual))
        {
            foreach (var id in Ids)
            {
                engine.CreateReplicaVolume(id, ReplicaModel.Size, "orders");
            }
            var before = engine.GetJournalStatus(engine.Group("orders")).LastSequence;
            var joined = new ReplicaBatchBuilder();
            for (var i = 0; i < 5; i++)
            {
                Assert.True(joined.TryAdd(model.NextBatch()));
            }
            await engine.ApplyReplicaBatchAsync(engine.Group("orders"), joined.Build());

            Assert.Equal(before + 1, engine.GetJournalStatus(engine.Group("orders")).LastSequence);
            Assert.Equal(model.Sequence, engine.GetReplicaPosition(engine.Group("orders")).SourceSequence);
            engine.CloseWithoutCheckpoint();
        }
        using (var engine = StorageEngine.Open(_directory.Path, Manual))
        {
            Assert.Equal(1, engine.Recovery.Single(r => r.Journal == "orders").ReplayedRecords);
            Assert.Equal(model.Sequence, engine.GetReplicaPosition(engine.Group("orders")).SourceSequence);
            ReplicaModel.AssertSameContent(model.Volumes, ReplicaModel.Read(engine, Ids));
        }
    }

    [Fact]
    public void OnlyABatchStartingWhereTheJoinEndsAndFittingOneRecordIsTaken()
    {
        var model = new ReplicaModel(8, Ids);
        var first = model.NextBatch();
        var joined = new ReplicaBatchBuilder();
        Assert.True(joined.TryAdd(first));
        Assert.False(joined.TryAdd(first), "a repeat of the first batch");
        model.NextBatch();
        Assert.False(joined.TryAdd(model.NextBatch()), "a batch after a gap");

        var huge = new ReplicaBatch(model.Sequence, model.Sequence + 1, 1,
            [ReplicaUpdate.Write("sales", 0, new byte[ReplicaBatchBuilder.MaxRecordBytes / 2]), ReplicaUpdate.Write("sales", 0, new byte[ReplicaBatchBuilder.MaxRecordBytes / 2])]);
        var alone = new ReplicaBatchBuilder();
        Assert.True(alone.TryAdd(huge), "the first batch is always taken");
        Assert.False(alone.TryAdd(new ReplicaBatch(huge.LastSequence, huge.LastSequence + 1, 2, [ReplicaUpdate.Write("sales", 0, new byte[4096])])));
        Assert.Equal((model.Sequence, model.Sequence + 1, 1), (alone.Build().AfterSequence, alone.Build().LastSequence, alone.Batches));
        var built = joined.Build();
        Assert.Equal((first.AfterSequence, first.LastSequence, first.SourceTimestampMicros, first.Updates.Count),
            (built.AfterSequence, built.LastSequence, built.SourceTimestampMicros, built.Updates.Count));
    }
}
