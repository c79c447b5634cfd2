using System.Globalization;
using CsiDriver.Engine.CrashWorker;
using CsiDriver.Engine.Journal;

namespace CsiDriver.Engine.Tests;

/// <summary>Crash tests: a child process runs the workload and is killed with SIGKILL at a random
/// moment; after recovery each group's volumes must equal the model at one prefix of that
/// group's operations, no shorter than the last completed flush, and every group snapshot must
/// equal the model at its cut.</summary>
public sealed partial class StorageEngineTests
{
    private const int CrashRounds = 6;
    private const int MaxUnflushedTail = 4 * CrashWorkload.FlushEvery;

    [Fact]
    public void KilledWorkerRecoversToAFlushedPrefixOfEveryGroup()
    {
        var random = new Random(20261122);
        var seed = random.Next();
        CrashWorkload.Prepare(_directory.Path);
        var models = new[]
        {
            CrashWorkload.GroupVolumes.ToDictionary(v => v, _ => new byte[CrashWorkload.VolumeSize]),
            new Dictionary<string, byte[]> { [CrashWorkload.SoloVolume] = new byte[CrashWorkload.VolumeSize] },
        };
        var applied = new long[2];
        var cuts = new Dictionary<long, byte[][]>();
        long flushesSeen = 0;
        long lastCut = -1;

        for (var round = 0; round < CrashRounds; round++)
        {
            string[] lines;
            using (var worker = new CrashWorkerProcess(_directory.Path, seed, applied[0], applied[1]))
            {
                worker.WaitUntilReady(TimeSpan.FromSeconds(60));
                Thread.Sleep(100 + random.Next(600));
                worker.Kill();
                lines = [.. worker.Lines];
            }
            Assert.DoesNotContain(lines, l => l.StartsWith("ERR", StringComparison.Ordinal));
            var flushed = lines.Where(l => l.StartsWith("F ", StringComparison.Ordinal)).Select(l => l.Split(' ')).LastOrDefault();
            var durable = flushed == null ? applied : [Parse(flushed[1]), Parse(flushed[2])];
            flushesSeen += lines.Count(l => l.StartsWith("F ", StringComparison.Ordinal));
            lastCut = lines.Where(l => l.StartsWith("S ", StringComparison.Ordinal)).Select(l => Parse(l[2..])).Append(lastCut).Max();

            using var engine = Open();
            for (var stream = 0; stream < 2; stream++)
            {
                var actual = models[stream].Keys.ToDictionary(v => v, v => Bytes.ReadAll(engine.GetVolume(v)));
                var highest = actual.Values.Max(data => CrashWorkload.HighestIndex(stream, data));
                var from = Math.Max(durable[stream], Math.Max(highest + 1, applied[stream]));
                applied[stream] = AdvanceToMatch(seed, stream, models[stream], applied[stream], from, actual, cuts);
            }
            AssertCutsMatch(engine, cuts, lastCut);
            output.WriteLine($"round {round}: flushed {durable[0]}/{durable[1]}, recovered {applied[0]}/{applied[1]}, " +
                $"{engine.Snapshots.Count} snapshots, replayed {engine.Recovery.Sum(r => r.ReplayedRecords)} records");
        }
        Assert.True(flushesSeen > 0, "the worker never completed a flush");
        Assert.True(applied[0] > 0 && applied[1] > 0, "no operation survived any crash");
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

    /// <summary>Applies the stream's operations to the model from <paramref name="position"/>
    /// until the model equals <paramref name="actual"/>, looking at prefixes from
    /// <paramref name="earliest"/> up to a bounded unflushed tail; returns the prefix length.</summary>
    private static long AdvanceToMatch(
        int seed, int stream, Dictionary<string, byte[]> model, long position, long earliest,
        Dictionary<string, byte[]> actual, Dictionary<long, byte[][]> cuts)
    {
        for (; position < earliest + MaxUnflushedTail; position++)
        {
            if (position >= earliest && model.All(m => m.Value.AsSpan().SequenceEqual(actual[m.Key])))
            {
                return position;
            }
            CrashWorkload.Apply(CrashWorkload.For(seed, stream, position), model);
            if (stream == 0 && (position + 1) % CrashWorkload.SnapshotEvery == 0)
            {
                cuts[position + 1] = CrashWorkload.GroupVolumes.Select(v => (byte[])model[v].Clone()).ToArray();
            }
        }
        Assert.Fail($"stream {stream}: recovered volumes match no prefix of {earliest}..{position} operations");
        return position;
    }

    /// <summary>Every surviving group snapshot equals the model at its cut, and the snapshots of
    /// one cut share its sequence. A cut is created whole (both or neither); the worker deletes
    /// old cuts one snapshot at a time, so only older cuts may have lost a half.</summary>
    private static void AssertCutsMatch(StorageEngine engine, Dictionary<long, byte[][]> cuts, long lastReported)
    {
        var indexes = engine.Snapshots.Select(s => Parse(s.Id.Split('-')[1])).Distinct().ToList();
        if (lastReported >= 0)
        {
            Assert.Contains(lastReported, indexes);
        }
        foreach (var index in indexes)
        {
            var snapshots = Enumerable.Range(0, CrashWorkload.GroupVolumes.Length)
                .Select(v => (Volume: v, Snapshot: engine.FindSnapshot(CrashWorkload.SnapshotName(v, index))))
                .Where(s => s.Snapshot != null)
                .ToList();
            if (index >= lastReported)
            {
                Assert.Equal(CrashWorkload.GroupVolumes.Length, snapshots.Count);
            }
            Assert.Single(snapshots.Select(s => s.Snapshot!.Sequence).Distinct());
            foreach (var (volume, snapshot) in snapshots)
            {
                Assert.True(cuts[index][volume].AsSpan().SequenceEqual(Bytes.ReadAll(engine.OpenSnapshot(snapshot!.Id))),
                    $"snapshot {snapshot.Id} differs from the model at its cut");
            }
        }
    }

    private static long Parse(string value) => long.Parse(value, CultureInfo.InvariantCulture);
}
