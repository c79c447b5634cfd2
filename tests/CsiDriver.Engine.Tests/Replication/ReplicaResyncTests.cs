using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Replication;

namespace CsiDriver.Engine.Tests.Replication;

public sealed class ReplicaResyncTests : IDisposable
{
    private const int Chunk = ChunkRange.ChunkSize;
    private static readonly EngineOptions Manual = new() { BackgroundCheckpoints = false };
    private static readonly string[] Ids = ["sales", "stock"];
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private StorageEngine Open() => StorageEngine.Open(_directory.Path, Manual);

    /// <summary>Replicas at a consistent position after a few batches.</summary>
    private static ReplicaModel Prepare(StorageEngine engine, int seed)
    {
        var model = new ReplicaModel(seed, Ids);
        foreach (var id in Ids)
        {
            engine.CreateReplicaVolume(id, ReplicaModel.Size, "orders");
        }
        for (var i = 0; i < 4; i++)
        {
            engine.ApplyReplicaBatchAsync(engine.Group("orders"), model.NextBatch()).AsTask().GetAwaiter().GetResult();
        }
        return model;
    }

    /// <summary>Every chunk of both volumes rewritten with data derived from <paramref name="seed"/>,
    /// the last one of "stock" zeroed.</summary>
    private static List<ReplicaUpdate> Chunks(int seed) =>
        Ids.SelectMany(id => Enumerable.Range(0, ReplicaModel.Size / Chunk).Select(c =>
            id == "stock" && c == ReplicaModel.Size / Chunk - 1
                ? new ReplicaUpdate(id, JournalRecordKind.WriteZeroes, (long)c * Chunk, Chunk, default)
                : ReplicaUpdate.Write(id, (long)c * Chunk, Bytes.Pattern(Chunk, seed * 1000 + c)))).ToList();

    private static Dictionary<string, byte[]> ImageOf(List<ReplicaUpdate> chunks) =>
        Ids.ToDictionary(id => id, id =>
        {
            var image = new byte[ReplicaModel.Size];
            foreach (var update in chunks.Where(u => u.VolumeId == id))
            {
                update.Payload.Span.CopyTo(image.AsSpan((int)update.Offset));
            }
            return image;
        });

    private static Snapshot? ProtectionOf(StorageEngine engine, string volumeId) =>
        engine.Snapshots.SingleOrDefault(s => s.VolumeId == volumeId && s.Purpose == SnapshotPurpose.ResyncProtection);

    private static void AssertProtected(StorageEngine engine, bool present) =>
        Assert.All(Ids, id => Assert.Equal(present, ProtectionOf(engine, id) != null));

    [Fact]
    public async Task AResyncWritesChunksThenCompletesAtTheNewPosition()
    {
        using var engine = Open();
        var model = Prepare(engine, 1);
        var before = engine.GetReplicaPosition(engine.Group("orders"));
        engine.BeginReplicaResync(engine.Group("orders"));
        engine.BeginReplicaResync(engine.Group("orders"));
        Assert.Equal(before with { Resyncing = true }, engine.GetReplicaPosition(engine.Group("orders")));
        AssertProtected(engine, true);
        Assert.Throws<ReplicaResyncingException>(() => engine.CreateGroupSnapshot([("sales", "s1"), ("stock", "s2")]));
        Assert.Throws<ReplicaResyncingException>(() => engine.CloneVolume("copy", "sales", ReplicaModel.Size));
        await Assert.ThrowsAsync<ReplicaResyncingException>(() => engine.ApplyReplicaBatchAsync(engine.Group("orders"), model.NextBatch()).AsTask());

        var chunks = Chunks(7);
        await engine.WriteReplicaChunksAsync(engine.Group("orders"), chunks);
        var at = new ReplicaPosition(500, 1_800_000_000_000_000, false);
        await engine.CompleteReplicaResyncAsync(engine.Group("orders"), at);
        await engine.CompleteReplicaResyncAsync(engine.Group("orders"), at);

        Assert.Equal(at, engine.GetReplicaPosition(engine.Group("orders")));
        AssertProtected(engine, true); // stale now: the replicas are current without it
        engine.DropReplicaResyncProtection(engine.Group("orders"));
        AssertProtected(engine, false);
        ReplicaModel.AssertSameContent(ImageOf(chunks), ReplicaModel.Read(engine, Ids));
        var next = new ReplicaBatch(500, 501, 1, [ReplicaUpdate.Write("sales", 0, Bytes.Pattern(4096, 9))]);
        Assert.Equal(501, (await engine.ApplyReplicaBatchAsync(engine.Group("orders"), next)).SourceSequence);
        await Assert.ThrowsAsync<ReplicaNotResyncingException>(() => engine.CompleteReplicaResyncAsync(engine.Group("orders"), at).AsTask());
        await Assert.ThrowsAsync<ReplicaNotResyncingException>(() => engine.WriteReplicaChunksAsync(engine.Group("orders"), chunks).AsTask());
    }

    /// <summary>The backup's receiver writes the next chunks while earlier ones sync: each call's
    /// chunks are written, in call order, when it returns, so a later call can rely on an earlier
    /// one that is not durable yet (a volume grown, then written past its old size), and the last
    /// call's completion makes all of them durable.</summary>
    [Fact]
    public async Task ChunkWritesNotWaitedForAreWrittenInOrderAndDurableWithTheLast()
    {
        var chunks = Chunks(11);
        var grown = ReplicaModel.Size + Chunk;
        var beyond = Bytes.Pattern(Chunk, 77);
        using (var engine = Open())
        {
            Prepare(engine, 5);
            var group = engine.Group("orders");
            engine.BeginReplicaResync(group);
            var writes = new List<Task>
            {
                engine.WriteReplicaChunksAsync(group, [new ReplicaUpdate("sales", JournalRecordKind.Resize, 0, grown, default)]).AsTask(),
                engine.WriteReplicaChunksAsync(group, [ReplicaUpdate.Write("sales", ReplicaModel.Size, beyond)]).AsTask(),
                engine.WriteReplicaChunksAsync(group, chunks[..(chunks.Count / 2)]).AsTask(),
                engine.WriteReplicaChunksAsync(group, chunks[(chunks.Count / 2)..]).AsTask(),
            };
            Assert.Equal(grown, engine.GetVolume("sales").Size);
            Assert.Equal(beyond, Bytes.Read(engine.GetVolume("sales"), ReplicaModel.Size, Chunk));
            Assert.True(Bytes.ReadAll(engine.GetVolume("stock")).AsSpan().SequenceEqual(ImageOf(chunks)["stock"]), "the chunks of 'stock' were not written on return");
            await writes[^1];
            engine.CloseWithoutCheckpoint();
        }
        using (var engine = Open())
        {
            Assert.True(engine.GetReplicaPosition(engine.Group("orders")).Resyncing);
            var sales = Bytes.ReadAll(engine.GetVolume("sales"));
            Assert.Equal(grown, sales.Length);
            Assert.True(sales.AsSpan(0, ReplicaModel.Size).SequenceEqual(ImageOf(chunks)["sales"]), "the chunks of 'sales' were not all durable");
            Assert.True(sales.AsSpan(ReplicaModel.Size).SequenceEqual(beyond), "the chunk past the old size was not durable");
            Assert.True(Bytes.ReadAll(engine.GetVolume("stock")).AsSpan().SequenceEqual(ImageOf(chunks)["stock"]), "the chunks of 'stock' were not all durable");
        }
    }

    [Fact]
    public async Task AnAbortedResyncReturnsToTheProtectedImageAndPosition()
    {
        using var engine = Open();
        var model = Prepare(engine, 2);
        var before = engine.GetReplicaPosition(engine.Group("orders"));
        engine.BeginReplicaResync(engine.Group("orders"));
        await engine.WriteReplicaChunksAsync(engine.Group("orders"), Chunks(8));
        engine.AbortReplicaResync(engine.Group("orders"));
        engine.AbortReplicaResync(engine.Group("orders"));

        Assert.Equal(before, engine.GetReplicaPosition(engine.Group("orders")));
        AssertProtected(engine, false);
        ReplicaModel.AssertSameContent(model.Volumes, ReplicaModel.Read(engine, Ids));
        await engine.ApplyReplicaBatchAsync(engine.Group("orders"), model.NextBatch());
        ReplicaModel.AssertSameContent(model.Volumes, ReplicaModel.Read(engine, Ids));
        engine.CloseWithoutCheckpoint();
        using var reopened = Open();
        Assert.Equal(model.Sequence, reopened.GetReplicaPosition(reopened.Group("orders")).SourceSequence);
        ReplicaModel.AssertSameContent(model.Volumes, ReplicaModel.Read(reopened, Ids));
    }

    [Fact]
    public async Task AResyncSurvivesARestartAndCanStillBeAbortedOrCompleted()
    {
        ReplicaModel model;
        var chunks = Chunks(9);
        using (var engine = Open())
        {
            model = Prepare(engine, 3);
            engine.BeginReplicaResync(engine.Group("orders"));
            await engine.WriteReplicaChunksAsync(engine.Group("orders"), chunks);
            engine.CloseWithoutCheckpoint();
        }
        using (var engine = Open())
        {
            Assert.Equal(new ReplicaPosition(model.Sequence, 1_700_000_000_000_000 + model.Sequence, true), engine.GetReplicaPosition(engine.Group("orders")));
            AssertProtected(engine, true);
            ReplicaModel.AssertSameContent(ImageOf(chunks), ReplicaModel.Read(engine, Ids));
            ReplicaModel.AssertSameContent(model.Volumes, Ids.ToDictionary(id => id, id => Bytes.ReadAll(engine.OpenSnapshot(ProtectionOf(engine, id)!.Id))));
            engine.AbortReplicaResync(engine.Group("orders"));
            engine.CloseWithoutCheckpoint();
        }
        using (var engine = Open())
        {
            Assert.Equal(model.Sequence, engine.GetReplicaPosition(engine.Group("orders")).SourceSequence);
            ReplicaModel.AssertSameContent(model.Volumes, ReplicaModel.Read(engine, Ids));
            engine.BeginReplicaResync(engine.Group("orders"));
            await engine.WriteReplicaChunksAsync(engine.Group("orders"), chunks);
            engine.Checkpoint();
            await engine.CompleteReplicaResyncAsync(engine.Group("orders"), new ReplicaPosition(900, 9, false));
            engine.CloseWithoutCheckpoint();
        }
        using (var engine = Open())
        {
            Assert.Equal(new ReplicaPosition(900, 9, false), engine.GetReplicaPosition(engine.Group("orders")));
            AssertProtected(engine, false);
            ReplicaModel.AssertSameContent(ImageOf(chunks), ReplicaModel.Read(engine, Ids));
        }
    }

    [Fact]
    public async Task ProtectiveSnapshotsLeftByACrashBeforeTheResyncMarkAreRemovedOnOpen()
    {
        ReplicaModel model;
        using (var engine = Open())
        {
            model = Prepare(engine, 4);
            // What BeginReplicaResync leaves when it dies between its snapshot and its record
            // (whatever their names: the purpose says what they are).
            engine.CreateGroupSnapshot(Ids.Select(id => (id, "left-behind-" + id)).ToList(), SnapshotPurpose.ResyncProtection);
            engine.CloseWithoutCheckpoint();
        }
        using (var engine = Open())
        {
            Assert.False(engine.GetReplicaPosition(engine.Group("orders")).Resyncing);
            AssertProtected(engine, false);
            ReplicaModel.AssertSameContent(model.Volumes, ReplicaModel.Read(engine, Ids));
            await engine.ApplyReplicaBatchAsync(engine.Group("orders"), model.NextBatch());
            ReplicaModel.AssertSameContent(model.Volumes, ReplicaModel.Read(engine, Ids));
        }
        Assert.StartsWith("protect-", ReplicaApplier.ProtectiveSnapshotId(new string('v', VolumeIds.MaxLength)));
        Assert.True(VolumeIds.IsValid(ReplicaApplier.ProtectiveSnapshotId(new string('v', VolumeIds.MaxLength))));
    }

    [Fact]
    public async Task AnAbortedInitialSyncLeavesTheReplicasEmptyAndADeletedMembersProtectionGoes()
    {
        using var engine = Open();
        foreach (var id in Ids)
        {
            engine.CreateReplicaVolume(id, ReplicaModel.Size, "orders");
        }
        engine.BeginReplicaResync(engine.Group("orders"));
        Assert.Equal(ReplicaPosition.None with { Resyncing = true }, engine.GetReplicaPosition(engine.Group("orders")));
        await engine.WriteReplicaChunksAsync(engine.Group("orders"), Chunks(10));
        Assert.True(engine.DeleteVolume("stock"));
        engine.AbortReplicaResync(engine.Group("orders"));

        Assert.Equal(ReplicaPosition.None, engine.GetReplicaPosition(engine.Group("orders")));
        Assert.Empty(engine.Snapshots);
        Assert.Equal(-1, Bytes.ReadAll(engine.GetVolume("sales")).AsSpan().IndexOfAnyExcept((byte)0));
    }
}
