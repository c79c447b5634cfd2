using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Replication;

namespace CsiDriver.Engine.Tests.Replication;

public sealed class ReplicaApplyTests : IDisposable
{
    private static readonly EngineOptions Manual = new() { BackgroundCheckpoints = false };
    private static readonly string[] Ids = ["sales", "stock"];
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private StorageEngine Open() => StorageEngine.Open(_directory.Path, Manual);

    private static void CreateReplicas(StorageEngine engine)
    {
        foreach (var id in Ids)
        {
            engine.CreateReplicaVolume(id, ReplicaModel.Size, "orders");
        }
    }

    private static ReplicaPosition Apply(StorageEngine engine, ReplicaBatch batch) =>
        engine.ApplyReplicaBatchAsync("orders", batch).AsTask().GetAwaiter().GetResult();

    [Fact]
    public void AppliedBatchesEqualTheModelAndSurviveReopenAndCrash()
    {
        var model = new ReplicaModel(1, Ids);
        using (var engine = Open())
        {
            CreateReplicas(engine);
            Assert.Equal(ReplicaPosition.None, engine.GetReplicaPosition("orders"));
            for (var i = 0; i < 20; i++)
            {
                var batch = model.NextBatch();
                var position = Apply(engine, batch);
                Assert.Equal(new ReplicaPosition(batch.LastSequence, batch.SourceTimestampMicros, false), position);
            }
            Assert.Equal(model.Volumes, ReplicaModel.Read(engine, Ids));
            Assert.Equal(engine.GetJournalStatus("orders").LastSequence, engine.GetJournalStatus("orders").DurableSequence);
        }
        using (var engine = Open())
        {
            Assert.Equal(model.Sequence, engine.GetReplicaPosition("orders").SourceSequence);
            Assert.Equal(model.Volumes, ReplicaModel.Read(engine, Ids));
            for (var i = 0; i < 5; i++)
            {
                Apply(engine, model.NextBatch());
            }
            engine.CloseWithoutCheckpoint();
        }
        using (var engine = Open())
        {
            Assert.Equal(5, engine.Recovery.Single(r => r.Journal == "orders").ReplayedRecords);
            Assert.Equal(model.Sequence, engine.GetReplicaPosition("orders").SourceSequence);
            Assert.Equal(model.Volumes, ReplicaModel.Read(engine, Ids));
        }
    }

    [Fact]
    public void ReplicasRefuseOtherWritersButTheApplierWrites()
    {
        using var engine = Open();
        CreateReplicas(engine);
        var volume = engine.GetVolume("sales");
        Assert.True(volume.IsReadOnly);
        Assert.Throws<ReadOnlyVolumeException>(() => Bytes.Write(volume, 0, new byte[4096]));
        Apply(engine, new ReplicaBatch(0, 1, 10, [ReplicaUpdate.Write("sales", 0, Bytes.Pattern(4096, 3))]));
        Assert.Equal(Bytes.Pattern(4096, 3), Bytes.Read(volume, 0, 4096));
    }
}
