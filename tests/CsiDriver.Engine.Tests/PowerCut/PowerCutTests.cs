using CsiDriver.ConformanceTests.Faults;
using CsiDriver.Engine.CrashWorker;
using CsiDriver.Engine.Journal;
using Xunit.Abstractions;

namespace CsiDriver.Engine.Tests.PowerCut;

/// <summary>
/// Power cuts where the OS cannot help (issue 14, defect 13): the crash workload runs in a
/// child process on a <see cref="PowerCutDisk"/>, the disk loses everything no flush covered,
/// the worker dies with it, the file system is mounted again and the engine recovers. After
/// every cut no operation, replica batch or group snapshot acknowledged as durable may be
/// missing, and every image must be a prefix of its stream (<see cref="CrashWorkloadModel"/>).
/// Cuts land at random moments and, on purpose, inside the windows that matter: while the
/// engine starts (recovery, the first segment), just as a journal segment is started (a roll),
/// and just as a checkpoint writes its files; the replica stream applies a batch every third
/// step, so cuts fall inside applies throughout.
/// </summary>
public sealed class PowerCutTests(ITestOutputHelper output)
{
    private const int RoundsPerCutPoint = 6;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private static readonly EngineOptions Checking = CrashWorkload.Options with { BackgroundCheckpoints = false };

    private enum CutPoint
    {
        Starting,
        Anywhere,
        JournalRoll,
        Checkpoint,
    }

    [Fact]
    public async Task Power_cuts_lose_no_flushed_write()
    {
        var figures = await CutAsync(prefixRequired: false);
        Assert.True(figures.Counted("writes the disk had not flushed") > 0, "no cut found a write the disk had not flushed: nothing was ever dropped");
    }

    /// <summary>The same cuts, also requiring every image to be a prefix of its stream.</summary>
    [Fact]
    public Task Power_cuts_leave_every_image_a_prefix() => CutAsync(prefixRequired: true);

    /// <summary>Cuts power <see cref="RoundsPerCutPoint"/> times at each <see cref="CutPoint"/>,
    /// checks each recovery, and reports the figures: a failure for every lost durable operation
    /// and, when <paramref name="prefixRequired"/>, for every non-prefix image. After a non-prefix
    /// image the model no longer describes the data, so the workload starts again on new volumes.</summary>
    private async Task<FaultFigures> CutAsync(bool prefixRequired)
    {
        await using var disk = await PowerCutDisk.CreateAsync(256L << 20);
        var random = new Random(20261204);
        var figures = new FaultFigures(prefixRequired ? "power cuts, prefix required" : "power cuts");
        var cutPoints = Enum.GetValues<CutPoint>();
        var (directory, model) = await StartAsync(disk, 0, random);
        var progressed = new bool[CrashWorkload.Streams];

        for (var round = 0; round < RoundsPerCutPoint * cutPoints.Length; round++)
        {
            var cutPoint = cutPoints[round % cutPoints.Length];
            string[] lines, engineLog;
            DeviceRequests requests;
            using (var watcher = new FileSystemWatcher(directory) { IncludeSubdirectories = true, NotifyFilter = NotifyFilters.FileName })
            using (var worker = new CrashWorkerProcess(CrashWorkerProcess.CrashArguments(directory, model.Seed, model.Applied)))
            {
                await WaitForAsync(cutPoint, worker, watcher, random);
                lines = [.. worker.Lines]; // printed before the cut: what the worker was told is durable
                requests = await disk.CutAsync();
                worker.Kill();
                engineLog = worker.Lines.Where(IsEngineLog).ToArray();
            }
            Assert.True(requests.Trims == 0, $"round {round}: the disk was sent TRIM, which the power-cut model does not describe");
            await disk.RestoreAsync();

            var leftovers = Leftovers.Find(directory);
            var replicaJournal = JournalPicture.Describe(directory, CrashWorkload.ReplicaGroup); // before recovery changes it
            CrashCheck check;
            using (var engine = StorageEngine.Open(directory, Checking))
            {
                check = model.Check(engine, lines);
                var tornTails = engine.Recovery.Count(r => r.CutReason != null);
                output.WriteLine($"round {round} ({cutPoint}): {requests}; {leftovers}; {tornTails} torn tails cut; {check}");
                if (!check.Clean)
                {
                    output.WriteLine($"  replica journal as the cut left it: {replicaJournal}");
                    output.WriteLine($"  recovery: {string.Join("; ", engine.Recovery)}");
                    output.WriteLine($"  the worker's engine logged (the first {lines.Count(IsEngineLog)} before the cut): {string.Join(" | ", engineLog)}");
                }
                figures.Count("torn journal tails cut", tornTails);
                figures.Count("recoveries replaying replica batches",
                    engine.Recovery.Any(r => r.Journal == CrashWorkload.ReplicaGroup && r.ReplayedRecords > 0) ? 1 : 0);
            }
            check.Report(figures, $"round {round} ({cutPoint})", prefixRequired);
            figures.Count($"cuts {cutPoint}");
            figures.Count("writes the disk had not flushed", requests.UnflushedWrites);
            figures.Count("headerless segments", leftovers.HeaderlessSegments);
            figures.Count("half-written metadata files", leftovers.TemporaryFiles);
            for (var stream = 0; stream < progressed.Length; stream++)
            {
                progressed[stream] |= model.Applied[stream] > 0;
            }
            if (check.NonPrefixImages > 0)
            {
                (directory, model) = await StartAsync(disk, round + 1, random);
            }
        }
        figures.Report(output);
        Assert.True(progressed.All(p => p), "the workload made no durable progress in some stream");
        return figures;
    }

    private static bool IsEngineLog(string workerLine) => workerLine.StartsWith("L ", StringComparison.Ordinal);

    /// <summary>The workload's volumes, new, in a data directory of their own on the disk, made
    /// durable by the test (syncfs): the probe judges the workload's flushes, not the setup's.</summary>
    private static async Task<(string Directory, CrashWorkloadModel Model)> StartAsync(PowerCutDisk disk, int round, Random random)
    {
        var directory = Path.Combine(disk.Path, $"engine-{round}");
        CrashWorkload.Prepare(directory);
        await disk.SyncAsync();
        return (directory, new CrashWorkloadModel(random.Next()));
    }

    /// <summary>Returns at the moment the round's power cut is due.</summary>
    private static async Task WaitForAsync(CutPoint cutPoint, CrashWorkerProcess worker, FileSystemWatcher watcher, Random random)
    {
        if (cutPoint == CutPoint.Starting)
        {
            await Task.Delay(random.Next(400)); // the runtime starting, then the engine recovering
            return;
        }
        var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var armed = false;
        void Seen(string? name)
        {
            name ??= "";
            var wanted = cutPoint switch
            {
                CutPoint.JournalRoll => name.EndsWith(".seg", StringComparison.Ordinal),
                CutPoint.Checkpoint => name.EndsWith("checkpoint.tmp", StringComparison.Ordinal) || name.EndsWith(".map.tmp", StringComparison.Ordinal),
                _ => false,
            };
            if (wanted && Volatile.Read(ref armed))
            {
                created.TrySetResult();
            }
        }
        watcher.Created += (_, e) => Seen(e.Name);
        watcher.Renamed += (_, e) => Seen(e.Name); // a roll into a spare renames it to the segment's name
        watcher.EnableRaisingEvents = true;
        worker.WaitUntilReady(Bound);
        await Task.Delay(50 + random.Next(cutPoint == CutPoint.Anywhere ? 1000 : 400));
        if (cutPoint == CutPoint.Anywhere)
        {
            return;
        }
        Volatile.Write(ref armed, true);
        await created.Task.WaitAsync(Bound);
        Thread.SpinWait(random.Next(200_000)); // up to a millisecond or so into the operation
    }

    /// <summary>Files the cut left half-made, seen before the engine opens: a journal segment
    /// without its header, or with a spare's earlier header naming another segment (a roll cut
    /// short), and metadata files never renamed into place (a checkpoint or catalog write cut short).</summary>
    private sealed record Leftovers(int HeaderlessSegments, int TemporaryFiles)
    {
        public static Leftovers Find(string directory) => new(
            Directory.EnumerateFiles(Path.Combine(directory, "journals"), "journal-*.seg", SearchOption.AllDirectories).Count(HasNoHeader),
            Directory.EnumerateFiles(directory, "*.tmp", SearchOption.AllDirectories).Count());

        public override string ToString() => $"{HeaderlessSegments} headerless segments, {TemporaryFiles} .tmp files";

        private static bool HasNoHeader(string segment)
        {
            var header = new byte[JournalFormat.SegmentHeaderSize];
            using var file = File.OpenHandle(segment);
            return RandomAccess.Read(file, header, 0) < header.Length || !SegmentHeader.TryParse(header, out var parsed, out _)
                || !JournalFormat.TryParseSegmentNumber(Path.GetFileName(segment), out var number) || parsed.Number != number;
        }
    }
}
