using CsiDriver.ConformanceTests.Faults;
using CsiDriver.Engine.CrashWorker;
using CsiDriver.Engine.Journal;

namespace CsiDriver.Engine.Tests;

/// <summary>Crash tests: a child process runs the workload and is killed with SIGKILL at a random
/// moment; after recovery each group's volumes must equal the model at one prefix of that
/// group's operations, no shorter than the last completed flush, the replicas the image after
/// the batches their position names, and every group snapshot the model at its cut
/// (<see cref="CrashWorkloadModel"/>).</summary>
public sealed partial class StorageEngineTests
{
    private const int CrashRounds = 6;

    [Fact]
    public void KilledWorkerRecoversToAFlushedPrefixOfEveryGroup()
    {
        var random = new Random(20261122);
        var model = new CrashWorkloadModel(random.Next());
        CrashWorkload.Prepare(_directory.Path);
        var figures = new FaultFigures("SIGKILL under flushed writes (engine)");

        for (var round = 0; round < CrashRounds; round++)
        {
            string[] lines;
            using (var worker = new CrashWorkerProcess(CrashWorkerProcess.CrashArguments(_directory.Path, model.Seed, model.Applied)))
            {
                worker.WaitUntilReady(TimeSpan.FromSeconds(60));
                Thread.Sleep(100 + random.Next(600));
                worker.Kill();
                lines = [.. worker.Lines];
            }
            Assert.DoesNotContain(lines, l => l.StartsWith("ERR", StringComparison.Ordinal));
            // Released segments the workload's small segments and frequent checkpoints keep for reuse.
            figures.Count("spares at the kill", Directory.GetFiles(_directory.Path, "*.spare", SearchOption.AllDirectories).Length);

            using var engine = Open();
            var check = model.Check(engine, lines);
            output.WriteLine($"round {round}: {check}, {engine.Snapshots.Count} snapshots, " +
                $"replayed {engine.Recovery.Sum(r => r.ReplayedRecords)} records");
            check.Report(figures, $"round {round}");
            if (check.NonPrefixImages > 0)
            {
                break; // the model no longer describes the data
            }
        }
        figures.Report(output);
        Assert.True(figures.Counted("workload flushes") > 0, "the worker never completed a flush");
        Assert.True(model.Applied.All(a => a > 0), "no operation of some stream survived any crash");
    }

    /// <summary>The power-cut probe reads the worker's lines just before it cuts, and the worker
    /// runs on meanwhile: the report can lag the worker by several group snapshots (a full run
    /// saw four), in which time the worker took later cuts and deleted the reported one. The
    /// check must judge the cuts by what the engine holds and still catch a cut really lost.
    /// Here the worker runs to its tenth cut in process, and the check is told only up to its first.</summary>
    [Fact]
    public async Task A_report_lagging_the_worker_by_several_cuts_is_judged_by_the_cuts_the_engine_holds()
    {
        CrashWorkload.Prepare(_directory.Path);
        var seed = new Random(20261205).Next();
        var output = new StringWriter();
        await CrashWorkload.RunAsync(_directory.Path, seed, [0, 0, 0], output, steps: 10 * 2 * CrashWorkload.SnapshotEvery);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var first = Array.IndexOf(lines, $"S {CrashWorkload.SnapshotEvery}");
        Assert.True(first > 0, "the worker took no group snapshot");
        Assert.Contains($"S {10 * CrashWorkload.SnapshotEvery}", lines);

        using (var engine = Open())
        {
            Assert.DoesNotContain(engine.Snapshots, s => s.Id == CrashWorkload.SnapshotName(0, CrashWorkload.SnapshotEvery));
            var lagging = new CrashWorkloadModel(seed).Check(engine, lines[..(first + 1)]);
            Assert.True(lagging.Clean, lagging.ToString());
            Assert.Equal(10L * CrashWorkload.SnapshotEvery, lagging.Recovered[0]);

            // The same check catches the newest cut lost, reported or not.
            engine.DeleteSnapshot(CrashWorkload.SnapshotName(1, 10 * CrashWorkload.SnapshotEvery));
            var halfCut = new CrashWorkloadModel(seed).Check(engine, lines[..(first + 1)]);
            Assert.Equal(1, halfCut.NonPrefixImages);
            engine.DeleteSnapshot(CrashWorkload.SnapshotName(0, 10 * CrashWorkload.SnapshotEvery));
            var lost = new CrashWorkloadModel(seed).Check(engine, lines);
            Assert.Equal(1, lost.LostDurable);
        }
    }

    /// <summary>The replica group names its position itself: one behind what the backup
    /// acknowledged lost those batches, whether or not the replicas are the image at that
    /// position, and the check says both (a position regressed over newer data once counted
    /// no loss, as the check stopped at the image). Here ten batches are applied and twelve
    /// reported durable; then a replica is written behind the applier's back.</summary>
    [Fact]
    public async Task A_replica_position_behind_the_acknowledged_batches_counts_them_lost_also_over_other_data()
    {
        CrashWorkload.Prepare(_directory.Path);
        var seed = new Random(20261205).Next();
        string[] reported = ["R 12"];
        using var engine = Open();
        var group = engine.Groups.Single(g => g.Name == CrashWorkload.ReplicaGroup);
        for (var batch = 0; batch < 10; batch++)
        {
            await engine.ApplyReplicaBatchAsync(group, CrashWorkload.Batch(seed, batch));
        }

        var behind = new CrashWorkloadModel(seed).Check(engine, reported);
        Assert.Equal(2, behind.LostDurable);
        Assert.Equal(0, behind.NonPrefixImages);
        Assert.Equal(10, behind.Recovered[CrashWorkload.ReplicaStream]);

        var replica = CrashWorkload.ReplicaVolumes[0];
        engine.SetVolumeReadOnly(replica, false);
        await engine.GetVolume(replica).WriteAsync(0, Enumerable.Repeat((byte)0xEE, 4096).ToArray(), fua: true);
        var overOther = new CrashWorkloadModel(seed).Check(engine, reported);
        Assert.Equal(2, overOther.LostDurable);
        Assert.Equal(1, overOther.NonPrefixImages);
        Assert.Contains(overOther.Problems, p => p.Contains("the replicas differ from the image after the 10 batches", StringComparison.Ordinal)
            && p.Contains("they are no image after 0..", StringComparison.Ordinal));
    }

    /// <summary>A group stream whose volumes match no prefix has no position to count from; the
    /// durable operations whose data is gone from their blocks are counted lost all the same
    /// (the check said "0 durable lost"). Here the solo stream's first twenty operations are
    /// reported durable and one write is missing from its volume, the rest applied.</summary>
    [Fact]
    public void A_group_stream_matching_no_prefix_counts_the_durable_operations_gone_from_its_blocks()
    {
        const int stream = 1;
        var seed = new Random(20261205).Next();
        var operations = Enumerable.Range(0, 20).Select(i => CrashWorkload.For(seed, stream, i)).ToList();
        var skipped = operations.First(op => !op.Trim && BlocksOf(op).Except(operations.Skip((int)op.Index + 1).SelectMany(BlocksOf)).Any());
        var volumes = CrashWorkload.VolumesOf(0).Concat(CrashWorkload.VolumesOf(stream)).ToDictionary(v => v, _ => new byte[CrashWorkload.VolumeSize]);
        foreach (var op in operations.Where(op => op.Index != skipped.Index))
        {
            CrashWorkload.Apply(op, volumes);
        }

        var check = new CrashWorkloadModel(seed).CheckGroups(v => volumes[v], ["F 0 20"]);

        Assert.Equal(1, check.NonPrefixImages);
        Assert.Equal(1, check.LostDurable);
        Assert.Contains(check.Problems, p => p.StartsWith("stream 1: at least 1 operations known durable were lost", StringComparison.Ordinal));
    }

    private static IEnumerable<(string Volume, long Block)> BlocksOf(CrashWorkload.Operation op) =>
        Enumerable.Range(0, op.Length / 4096).Select(i => (op.Volume, op.Offset / 4096 + i));

    /// <summary>The backup's replica journal over two crashes, its tail ending in a whole record
    /// of a reused file's earlier life (a checksummed record whose sequence is not the one due,
    /// right where the records end). The first recovery must cut that record away: the batches
    /// applied after it are durable and acknowledged, and the second recovery must replay them.
    /// (Cut past it, it stayed in front of them and the second recovery cut them off: the
    /// position fell back to where the first recovery left it, over replicas holding the later
    /// batches — the power-cut probe's "replicas differ from the image after the 328 batches
    /// their position names".)</summary>
    [Fact]
    public async Task Replica_batches_applied_after_a_recovery_that_cut_a_stale_record_survive_the_next_crash()
    {
        CrashWorkload.Prepare(_directory.Path);
        var seed = new Random(20261205).Next();
        var journal = Path.Combine(_directory.Path, "journals", CrashWorkload.ReplicaGroup);
        await ApplyBatchesAndCrashAsync(0, 10);
        var tail = Directory.GetFiles(journal, "journal-*.seg").Max(StringComparer.Ordinal)!;
        var bytes = File.ReadAllBytes(tail);
        var first = BitConverter.ToInt32(bytes, JournalFormat.SegmentHeaderSize + 4); // the segment's first record, whole
        using (var file = new FileStream(tail, FileMode.Append))
        {
            file.Write(bytes, JournalFormat.SegmentHeaderSize, first);
        }
        await ApplyBatchesAndCrashAsync(10, 15);

        using var engine = Open();
        var check = new CrashWorkloadModel(seed).Check(engine, ["R 15"]);
        Assert.True(check.Clean, check.ToString());
        Assert.Equal(15, check.Recovered[CrashWorkload.ReplicaStream]);

        async Task ApplyBatchesAndCrashAsync(long from, long to)
        {
            var engine = Open();
            var group = engine.Groups.Single(g => g.Name == CrashWorkload.ReplicaGroup);
            for (var batch = from; batch < to; batch++)
            {
                await engine.ApplyReplicaBatchAsync(group, CrashWorkload.Batch(seed, batch)); // durable on return
            }
            engine.CloseWithoutCheckpoint();
        }
    }

    /// <summary>The catalog never names a sequence its journal could still lose (Catalog.cs). A
    /// power cut that kept the catalog and took the journal's unsynced tail would have the journal
    /// hand those sequences out again, and a later replay would route the new records into the
    /// snapshot's frozen layer, or skip them as older than a volume's joining point. A test can
    /// stop between the two writes only by making the catalog write fail: the journal must be
    /// durable through the snapshot's record, and through a new member's joining point, by then.</summary>
    [Fact]
    public void The_journal_holds_every_sequence_a_catalog_names_durably_before_the_catalog_is_written()
    {
        using var engine = Open();
        var volume = engine.CreateVolume("v", 4 * Chunk, "g");
        var group = volume.Group;
        var blocker = Path.Combine(_directory.Path, "catalog.tmp");
        Directory.CreateDirectory(blocker);
        try
        {
            Bytes.Write(volume, 0, Bytes.Pattern(Chunk, 1)); // journaled, not flushed
            Assert.Throws<UnauthorizedAccessException>(() => engine.CreateVolume("w", 4 * Chunk, "g"));
            Assert.Equal(group.Journal.LastSequence, group.Commit.DurableSequence);

            Bytes.Write(volume, Chunk, Bytes.Pattern(Chunk, 2));
            Assert.Throws<UnauthorizedAccessException>(() => engine.CreateSnapshot("v", "s"));
            Assert.Equal(group.Journal.LastSequence, group.Commit.DurableSequence);
        }
        finally
        {
            Directory.Delete(blocker);
        }
    }

    /// <summary>A kill inside a journal roll leaves the new segment created but without its
    /// header; the flushed writes in the segments before it must still be replayed.</summary>
    [Fact]
    public async Task FlushedWritesSurviveAKillInsideAJournalRoll()
    {
        var engine = Open(new EngineOptions { BackgroundCheckpoints = false, SegmentBytes = 2 * Chunk });
        var volume = engine.CreateVolume("v", 8 * Chunk, "g");
        engine.Checkpoint();
        for (var i = 0; i < 6; i++)
        {
            Bytes.Write(volume, i * Chunk, Bytes.Pattern(Chunk, i));
        }
        await volume.FlushAsync();
        engine.CloseWithoutCheckpoint();
        var journal = Path.Combine(_directory.Path, "journals", "g");
        var newest = Directory.GetFiles(journal, "*.seg").Max(f => JournalFormat.TryParseSegmentNumber(Path.GetFileName(f), out var n) ? n : 0);
        File.WriteAllBytes(Path.Combine(journal, JournalFormat.SegmentFileName(newest + 1)), []);

        using var reopened = Open();
        Assert.Equal(6, Assert.Single(reopened.Recovery, r => r.Journal == "g").ReplayedRecords);
        var recovered = reopened.GetVolume("v");
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(Bytes.Pattern(Chunk, i), Bytes.Read(recovered, i * Chunk, Chunk));
        }
    }

    /// <summary>A checkpoint that fails to write a chunk map leaves it to the next one, which
    /// names a later cut: the records before that cut are never replayed again.</summary>
    [Fact]
    public void ChunkMapACheckpointFailedToWriteIsWrittenByTheNext()
    {
        var engine = Open();
        var volume = engine.CreateVolume("v", 4 * Chunk);
        Bytes.Write(volume, Chunk, Bytes.Pattern(Chunk, 7));
        var data = Assert.Single(Directory.GetFiles(Path.Combine(_directory.Path, "layers"), "*.data"));
        var blocker = Path.ChangeExtension(data, ".map.tmp");
        Directory.CreateDirectory(blocker);
        Assert.Throws<UnauthorizedAccessException>(engine.Checkpoint);
        Directory.Delete(blocker);
        engine.Checkpoint();
        engine.CloseWithoutCheckpoint();

        using var reopened = Open();
        Assert.Equal(0, reopened.Recovery.Sum(r => r.ReplayedRecords));
        Assert.Equal(Bytes.Pattern(Chunk, 7), Bytes.Read(reopened.GetVolume("v"), Chunk, Chunk));
    }
}
