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
            using (var worker = new CrashWorkerProcess(_directory.Path, model))
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
