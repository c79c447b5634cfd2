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
        engine.ApplyReplicaBatchAsync(engine.Group("orders"), batch).AsTask().GetAwaiter().GetResult();

    [Fact]
    public void AppliedBatchesEqualTheModelAndSurviveReopenAndCrash()
    {
        var model = new ReplicaModel(1, Ids);
        using (var engine = Open())
        {
            CreateReplicas(engine);
            Assert.Equal(ReplicaPosition.None, engine.GetReplicaPosition(engine.Group("orders")));
            for (var i = 0; i < 12; i++)
            {
                var batch = model.NextBatch();
                var position = Apply(engine, batch);
                Assert.Equal(new ReplicaPosition(batch.LastSequence, batch.SourceTimestampMicros, false), position);
            }
            ReplicaModel.AssertSameContent(model.Volumes, ReplicaModel.Read(engine, Ids));
            Assert.Equal(engine.GetJournalStatus(engine.Group("orders")).LastSequence, engine.GetJournalStatus(engine.Group("orders")).DurableSequence);
        }
        using (var engine = Open())
        {
            Assert.Equal(model.Sequence, engine.GetReplicaPosition(engine.Group("orders")).SourceSequence);
            ReplicaModel.AssertSameContent(model.Volumes, ReplicaModel.Read(engine, Ids));
            for (var i = 0; i < 4; i++)
            {
                Apply(engine, model.NextBatch());
            }
            engine.CloseWithoutCheckpoint();
        }
        using (var engine = Open())
        {
            Assert.Equal(4, engine.Recovery.Single(r => r.Journal == "orders").ReplayedRecords);
            Assert.Equal(model.Sequence, engine.GetReplicaPosition(engine.Group("orders")).SourceSequence);
            ReplicaModel.AssertSameContent(model.Volumes, ReplicaModel.Read(engine, Ids));
        }
    }

    /// <summary>A batch's record is written from its updates' own buffers in one gathered write:
    /// one with far more pieces than a single writev takes (the kernel's IOV_MAX, 1024) must still
    /// land whole, checksummed as one record.</summary>
    [Fact]
    public void ABatchOfThousandsOfUpdatesIsOneRecordThatReplaysWhole()
    {
        var model = new ReplicaModel(7, Ids);
        using (var engine = Open())
        {
            CreateReplicas(engine);
            Apply(engine, model.NextBatch());
            engine.Checkpoint();
            Apply(engine, model.NextBatch(updates: 3000, blocks: 1));
            ReplicaModel.AssertSameContent(model.Volumes, ReplicaModel.Read(engine, Ids));
            engine.CloseWithoutCheckpoint();
        }
        using (var engine = Open())
        {
            Assert.Equal(1, engine.Recovery.Single(r => r.Journal == "orders").ReplayedRecords);
            Assert.Equal(model.Sequence, engine.GetReplicaPosition(engine.Group("orders")).SourceSequence);
            ReplicaModel.AssertSameContent(model.Volumes, ReplicaModel.Read(engine, Ids));
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

    [Fact]
    public void ADuplicateBatchIsIgnoredAndAGapChangesNothing()
    {
        var model = new ReplicaModel(2, Ids);
        using var engine = Open();
        CreateReplicas(engine);
        var first = model.NextBatch();
        var second = model.NextBatch();
        Apply(engine, first);
        Apply(engine, second);
        var journalBefore = engine.GetJournalStatus(engine.Group("orders")).LastSequence;

        Assert.Equal(second.LastSequence, Apply(engine, first).SourceSequence);
        Assert.Equal(second.LastSequence, Apply(engine, second).SourceSequence);
        var third = model.NextBatch();
        var skipping = model.NextBatch();
        var gap = Assert.Throws<ReplicaSequenceException>(() => Apply(engine, skipping));
        Assert.Equal((second.LastSequence, third.LastSequence), (gap.ExpectedAfter, gap.GotAfter));
        var overlapping = third with { AfterSequence = second.LastSequence - 1 };
        Assert.Throws<ReplicaSequenceException>(() => Apply(engine, overlapping));

        Assert.Equal(journalBefore, engine.GetJournalStatus(engine.Group("orders")).LastSequence);
        Assert.Equal(second.LastSequence, engine.GetReplicaPosition(engine.Group("orders")).SourceSequence);
        Assert.Equal(second.LastSequence, model.BoundaryOf(ReplicaModel.Read(engine, Ids)));
        Apply(engine, third);
        Apply(engine, skipping);
        ReplicaModel.AssertSameContent(model.Volumes, ReplicaModel.Read(engine, Ids));
    }

    [Fact]
    public void MalformedAndOversizedBatchesAreRefusedBeforeAnythingChanges()
    {
        using var engine = Open();
        CreateReplicas(engine);
        engine.CreateVolume("elsewhere", ReplicaModel.Size, "other");
        var fits = ReplicaUpdate.Write("sales", 0, new byte[4096]);
        Assert.Throws<ArgumentException>(() => Apply(engine, new ReplicaBatch(0, 1, 1, [fits, ReplicaUpdate.Write("elsewhere", 0, new byte[4096])])));
        Assert.Throws<VolumeNotFoundException>(() => Apply(engine, new ReplicaBatch(0, 1, 1, [fits, ReplicaUpdate.Write("nope", 0, new byte[4096])])));
        Assert.Throws<ArgumentException>(() => Apply(engine, new ReplicaBatch(0, 1, 1, [fits, ReplicaUpdate.Write("sales", ReplicaModel.Size - 4096, new byte[8192])])));
        Assert.Throws<ArgumentException>(() => Apply(engine, new ReplicaBatch(0, 1, 1, [new ReplicaUpdate("sales", JournalRecordKind.Write, 0, 8192, new byte[4096])])));
        Assert.Throws<ArgumentException>(() => Apply(engine, new ReplicaBatch(0, 1, 1, [new ReplicaUpdate("sales", JournalRecordKind.Snapshot, 0, 0, default)])));
        var big = new byte[JournalFormat.MaxPayload / 2];
        // A replica's size follows its main (ExpandVolume refuses read-only volumes): room for the
        // oversized batch is made by lifting the replica's read-only flag for the expansion alone.
        engine.SetVolumeReadOnly("sales", false);
        engine.ExpandVolume("sales", 2L * JournalFormat.MaxPayload);
        engine.SetVolumeReadOnly("sales", true);
        Assert.Throws<ArgumentException>(() => Apply(engine, new ReplicaBatch(0, 2, 1, [ReplicaUpdate.Write("sales", 0, big), ReplicaUpdate.Write("sales", big.Length, big)])));
        Assert.Equal(ReplicaPosition.None, engine.GetReplicaPosition(engine.Group("orders")));
        Assert.Equal(new byte[4096], Bytes.Read(engine.GetVolume("sales"), 0, 4096));
    }

    /// <param name="pipelined">As the receiver applies: the next batch handed over while up
    /// to four earlier ones sync (batches visible, not yet durable, or durable and not yet in
    /// the data files, when a snapshot comes).</param>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SnapshotsTakenWhileBatchesApplyEqualTheModelAtTheirBatchBoundary(bool pipelined)
    {
        var model = new ReplicaModel(3, Ids);
        var batches = Enumerable.Range(0, 40).Select(_ => model.NextBatch(updates: 12)).ToList();
        using var engine = Open();
        CreateReplicas(engine);
        var group = engine.Group("orders");
        var applier = Task.Run(async () =>
        {
            var unacked = new Queue<Task>();
            foreach (var batch in batches)
            {
                unacked.Enqueue(engine.AppendReplicaBatch(group, batch).Durable);
                if (unacked.Count > (pipelined ? 4 : 0))
                {
                    await unacked.Dequeue();
                }
            }
            await Task.WhenAll(unacked);
        });
        var seen = new HashSet<long>();
        for (var i = 0; i < 16 && (i < 2 || !applier.IsCompleted); i++)
        {
            var snapshots = engine.CreateGroupSnapshot([("sales", $"sales-{i}"), ("stock", $"stock-{i}")], out var cut);
            var content = snapshots.ToDictionary(s => s.VolumeId, s => Bytes.ReadAll(engine.OpenSnapshot(s.Id)));
            var at = Assert.Single(cut.Points).Replica?.SourceSequence ?? 0;
            Assert.Equal(at, model.BoundaryOf(content));
            seen.Add(at);
        }
        await applier;
        Assert.Equal(model.Sequence, engine.GetReplicaPosition(group).SourceSequence);
        ReplicaModel.AssertSameContent(model.Volumes, ReplicaModel.Read(engine, Ids));
        Assert.NotEmpty(seen);
    }

    [Fact]
    public void ABatchTornByACrashIsCutWholeAndTheReplicasStayAtTheBoundaryBefore()
    {
        var model = new ReplicaModel(4, Ids);
        long before;
        byte[] torn;
        using (var engine = Open())
        {
            CreateReplicas(engine);
            for (var i = 0; i < 6; i++)
            {
                Apply(engine, model.NextBatch(updates: 10));
            }
            before = model.Sequence;
            // The record the next batch would append, as a power loss leaves it: its first half on disk.
            var next = model.NextBatch(updates: 30);
            var payload = ReplicaBatchRecordTests.Encode(next, next.Updates.Select(u => engine.GetVolume(u.VolumeId).Number).ToArray());
            var header = new RecordHeader(JournalRecordKind.ReplicaBatch, 0, engine.GetJournalStatus(engine.Group("orders")).LastSequence + 1, 0, 0, 0, payload.Length);
            var record = new byte[header.TotalLength];
            header.Write(record, payload);
            payload.CopyTo(record, JournalFormat.RecordHeaderSize);
            torn = record[..(record.Length / 2)];
            engine.CloseWithoutCheckpoint();
        }
        var segment = Directory.GetFiles(Path.Combine(_directory.Path, "journals", "orders"), "journal-*.seg").Order(StringComparer.Ordinal).Last();
        using (var file = new FileStream(segment, FileMode.Append))
        {
            file.Write(torn);
        }
        using (var engine = Open())
        {
            Assert.NotNull(engine.Recovery.Single(r => r.Journal == "orders").CutReason);
            Assert.Equal(before, engine.GetReplicaPosition(engine.Group("orders")).SourceSequence);
            Assert.Equal(before, model.BoundaryOf(ReplicaModel.Read(engine, Ids)));
        }
    }

    [Fact]
    public void ThePositionOutlivesTheRecordsAndCheckpointsNeedAReplicaAwareReader()
    {
        var model = new ReplicaModel(5, Ids);
        using (var engine = StorageEngine.Open(_directory.Path, Manual with { SegmentBytes = 64 << 10 }))
        {
            CreateReplicas(engine);
            for (var i = 0; i < 4; i++)
            {
                Apply(engine, model.NextBatch());
            }
            engine.Checkpoint();
            Assert.True(engine.GetJournalStatus(engine.Group("orders")).FirstSequence > 1);
        }
        var checkpoint = File.ReadAllBytes(Path.Combine(_directory.Path, "checkpoint"));
        Assert.Equal(2, BitConverter.ToUInt16(checkpoint, 6));
        using (var engine = Open())
        {
            Assert.Equal(0, engine.Recovery.Single(r => r.Journal == "orders").ReplayedRecords);
            Assert.Equal(new ReplicaPosition(model.Sequence, 1_700_000_000_000_000 + model.Sequence, false), engine.GetReplicaPosition(engine.Group("orders")));
            ReplicaModel.AssertSameContent(model.Volumes, ReplicaModel.Read(engine, Ids));
        }
    }

    [Fact]
    public async Task AResizeInABatchGrowsTheReplicaAndSurvivesACrash()
    {
        var grown = 2L * ReplicaModel.Size;
        var data = Bytes.Pattern(8192, 6);
        using (var engine = Open())
        {
            CreateReplicas(engine);
            var waiter = engine.WaitForReplicaPositionAsync(engine.Group("orders"), p => p.SourceSequence >= 2).AsTask();
            Assert.False(waiter.IsCompleted);
            Apply(engine, new ReplicaBatch(0, 2, 5, [
                new ReplicaUpdate("stock", JournalRecordKind.Resize, 0, grown, default),
                ReplicaUpdate.Write("stock", grown - data.Length, data)]));
            Assert.Equal(2, (await waiter.WaitAsync(TimeSpan.FromSeconds(10))).SourceSequence);
            engine.CloseWithoutCheckpoint();
        }
        using (var engine = Open())
        {
            var stock = engine.GetVolume("stock");
            Assert.Equal(grown, stock.Size);
            Assert.Equal(data, Bytes.Read(stock, grown - data.Length, data.Length));
        }
    }

    [Fact]
    public async Task ACrashInTheMiddleOfAppliesRecoversToABatchBoundaryNoOlderThanTheLastAcknowledged()
    {
        var model = new ReplicaModel(7, Ids);
        var batches = Enumerable.Range(0, 40).Select(_ => model.NextBatch(updates: 12)).ToList();
        var random = new Random(7);
        long acknowledged = 0;
        using (var engine = Open())
        {
            CreateReplicas(engine);
        }
        for (var round = 0; round < 3; round++)
        {
            var engine = Open();
            var position = engine.GetReplicaPosition(engine.Group("orders")).SourceSequence;
            Assert.True(position >= acknowledged, $"round {round}: recovered {position}, acknowledged {acknowledged}");
            Assert.Equal(position, model.BoundaryOf(ReplicaModel.Read(engine, Ids)));
            var applier = Task.Run(async () =>
            {
                foreach (var batch in batches.Where(b => b.AfterSequence >= position))
                {
                    acknowledged = (await engine.ApplyReplicaBatchAsync(engine.Group("orders"), batch)).SourceSequence;
                }
            });
            await Task.Delay(20 + random.Next(80));
            engine.CloseWithoutCheckpoint(); // what a crash leaves: the page cache, no checkpoint
            // The applier dies on closed files (or finished first); never on a refusal of the engine's.
            var failure = await Record.ExceptionAsync(() => applier);
            Assert.False(failure is EngineException, failure?.ToString());
        }
        using var recovered = Open();
        Assert.True(recovered.GetReplicaPosition(recovered.Group("orders")).SourceSequence >= acknowledged);
        Assert.Equal(recovered.GetReplicaPosition(recovered.Group("orders")).SourceSequence, model.BoundaryOf(ReplicaModel.Read(recovered, Ids)));
    }

    [Fact]
    public async Task UpdatesOfOneBatchAreReadInTheirOrderBeforeAndAfterTheyReachTheLayers()
    {
        const int chunk = 64 << 10;
        var expected = new byte[2 * chunk];
        Bytes.Pattern(4096, 1).CopyTo(expected, 0);
        Bytes.Pattern(8192, 3).CopyTo(expected, chunk - 4096);
        using (var engine = Open())
        {
            CreateReplicas(engine);
            var group = engine.Group("orders");
            // Later updates of the batch cover earlier ones: a trim then a write inside it, and a
            // write spanning two chunks over one inside the second (listed under both chunks).
            var batch = new ReplicaBatch(0, 4, 9, [
                new ReplicaUpdate("sales", JournalRecordKind.Trim, 0, 8192, default),
                ReplicaUpdate.Write("sales", 0, Bytes.Pattern(4096, 1)),
                ReplicaUpdate.Write("sales", chunk, Bytes.Pattern(4096, 2)),
                ReplicaUpdate.Write("sales", chunk - 4096, Bytes.Pattern(8192, 3))]);
            var sales = engine.GetVolume("sales");
            // Nothing reaches the layers while another thread holds the apply gate: reads find the batch in the overlay.
            using var release = new ManualResetEventSlim();
            using var held = new ManualResetEventSlim();
            var holder = new Thread(() =>
            {
                lock (group.Overlay.ApplyGate)
                {
                    held.Set();
                    release.Wait();
                }
            });
            holder.Start();
            held.Wait();
            try
            {
                var appended = engine.AppendReplicaBatch(group, batch);
                Assert.Equal(expected, Bytes.Read(sales, 0, expected.Length));
                await appended.Durable.WaitAsync(TimeSpan.FromSeconds(30));
                Assert.False(group.Overlay.IsEmpty);
                Assert.Equal(expected, Bytes.Read(sales, 0, expected.Length));
            }
            finally
            {
                release.Set();
                holder.Join();
            }
            group.Overlay.Commit();
            Assert.True(group.Overlay.IsEmpty);
            Assert.Equal(expected, Bytes.Read(sales, 0, expected.Length));
            engine.CloseWithoutCheckpoint();
        }
        using (var engine = Open())
        {
            Assert.Equal(4, engine.GetReplicaPosition(engine.Group("orders")).SourceSequence);
            Assert.Equal(expected, Bytes.Read(engine.GetVolume("sales"), 0, expected.Length));
        }
    }
}
