using System.Globalization;
using CsiDriver.Engine.CrashWorker;

namespace CsiDriver.Engine.Tests;

/// <summary>
/// What the crash workload has done, held against what an engine recovered after the worker
/// died (SIGKILL or a power cut). Per stream the model sits at the prefix the last check
/// recovered; the worker resumes from there. A check counts instead of stopping at the first
/// problem, so a probe can report its figures: operations acknowledged as durable that did not
/// survive, and images that are no prefix of their stream (or snapshots that are not the image
/// at their cut).
/// </summary>
internal sealed class CrashWorkloadModel
{
    /// <summary>How far past the durable point (or the newest operation seen in the data) a
    /// recovered prefix is looked for: a few flush intervals of unflushed operations.</summary>
    private const int MaxUnflushedTail = 4 * CrashWorkload.FlushEvery;

    private readonly int _seed;
    private readonly Dictionary<string, byte[]>[] _models;
    private readonly long[] _applied = new long[CrashWorkload.Streams];
    private readonly Dictionary<long, byte[][]> _cuts = [];
    private long _lastCut = -1;

    public CrashWorkloadModel(int seed)
    {
        _seed = seed;
        _models = Enumerable.Range(0, CrashWorkload.Streams)
            .Select(s => CrashWorkload.VolumesOf(s).ToDictionary(v => v, _ => new byte[CrashWorkload.VolumeSize]))
            .ToArray();
    }

    /// <summary>The workload's seed: every operation is a function of it.</summary>
    public int Seed => _seed;

    /// <summary>Per stream, the operations (replica stream: batches) recovered so far; where the
    /// next worker starts.</summary>
    public IReadOnlyList<long> Applied => _applied;

    /// <summary>Checks the recovered engine against what the worker reported before it died,
    /// and moves the model to the recovered prefixes. After a check with a non-prefix image
    /// the model no longer describes the data: stop there.</summary>
    public CrashCheck Check(StorageEngine engine, IEnumerable<string> workerLines) =>
        Check(volume => ReadAll(engine.GetVolume(volume)), workerLines, engine);

    /// <summary>The same for the two group streams alone, their volumes read by other means (a
    /// driver's NBD export, say): no replica stream and no group snapshots.</summary>
    public CrashCheck CheckGroups(Func<string, byte[]> readVolume, IEnumerable<string> workerLines) =>
        Check(readVolume, workerLines, engine: null);

    private CrashCheck Check(Func<string, byte[]> readVolume, IEnumerable<string> workerLines, StorageEngine? engine)
    {
        var report = WorkerReport.Parse(workerLines, _applied);
        _lastCut = Math.Max(_lastCut, report.LastCut);
        var cuts = engine is null ? new List<long>() : engine.Snapshots.Select(s => Parse(s.Id.Split('-')[1])).Distinct().Order().ToList();
        // What is known durable: what the worker reported (lines the test read before the cut,
        // which may lag what it did), and every stream-0 operation before the cut of a group
        // snapshot the engine holds (a snapshot is created only once they are durable).
        var durable = report.Durable.ToArray();
        durable[0] = Math.Max(durable[0], cuts.DefaultIfEmpty(0).Max());
        var problems = new List<string>();
        long lost = 0;
        var nonPrefix = 0;
        for (var stream = 0; stream < (engine is null ? CrashWorkload.ReplicaStream : CrashWorkload.Streams); stream++)
        {
            var actual = CrashWorkload.VolumesOf(stream).ToDictionary(v => v, readVolume);
            // The replica group names its position itself (its data may still not be that image);
            // a group stream's position is the prefix its data holds.
            var (recovered, prefix) = stream == CrashWorkload.ReplicaStream
                ? CheckReplica(engine!, actual, durable[stream], problems)
                : FindPrefix(stream, actual, durable[stream], problems) is { } found ? (found, true) : ((long?)null, false);
            if (recovered is { } position && position < durable[stream])
            {
                lost += durable[stream] - position;
                problems.Add($"stream {stream}: {durable[stream] - position} operations known durable were lost " +
                    $"(durable through {durable[stream]}, recovered {position})");
            }
            else if (recovered is null && stream != CrashWorkload.ReplicaStream && LostFromBlocks(stream, actual, durable[stream]) is > 0 and var missing)
            {
                lost += missing;
                problems.Add($"stream {stream}: at least {missing} operations known durable were lost, their data gone from blocks " +
                    $"that hold older data (durable through {durable[stream]}; no prefix to count from)");
            }
            if (!prefix)
            {
                nonPrefix++;
                continue;
            }
            MoveTo(stream, recovered!.Value);
        }
        var (lostCuts, badCuts) = engine is null ? (0, 0) : CheckCuts(engine, cuts, problems);
        return new CrashCheck(durable, [.. _applied], report.Flushes, lost + lostCuts, nonPrefix + badCuts, problems);
    }

    private static byte[] ReadAll(IBlockDevice device)
    {
        var data = new byte[device.Size];
        device.ReadAsync(0, data).AsTask().GetAwaiter().GetResult();
        return data;
    }

    /// <summary>The prefix of a stream the volumes hold: the first matching one at or after the
    /// durable point, else the last matching one before it (flushed operations lost); null when
    /// none matches.</summary>
    private long? FindPrefix(int stream, Dictionary<string, byte[]> actual, long durable, List<string> problems)
    {
        var (start, end) = SearchRange(stream, actual, durable);
        var model = Clone(_models[stream]);
        long? before = null;
        for (var position = _applied[stream]; position <= end; position++)
        {
            if (position >= start && Equal(model, actual))
            {
                if (position >= durable)
                {
                    return position;
                }
                before = position;
            }
            Advance(stream, model, position);
        }
        if (before is null)
        {
            problems.Add($"non-prefix image: stream {stream}'s volumes match no prefix of operations {start}..{end}; " +
                NearestPrefix(stream, actual, end));
        }
        return before;
    }

    /// <summary>Where a group stream's prefix is looked for: from past the newest operation seen in
    /// the data to a few flush intervals past that or the durable point.</summary>
    private (long Start, long End) SearchRange(int stream, Dictionary<string, byte[]> actual, long durable)
    {
        var highest = actual.Values.Max(data => CrashWorkload.HighestIndex(stream, data));
        var start = Math.Max(_applied[stream], highest + 1);
        return (start, Math.Max(start, durable) + MaxUnflushedTail);
    }

    /// <summary>
    /// For a group stream whose volumes match no prefix (so no position to count from): the
    /// durable operations (since the model's prefix) whose data some block no longer holds. A
    /// block lost the last durable operation on it when it holds an older operation's data or
    /// other data, or zeroes where that operation wrote and no operation after it (up to the
    /// search's end) trims the block. A lower bound: an operation whose every block a later
    /// one rewrote leaves no trace.
    /// </summary>
    private long LostFromBlocks(int stream, Dictionary<string, byte[]> actual, long durable)
    {
        var (_, end) = SearchRange(stream, actual, durable);
        var last = new Dictionary<(string Volume, long Block), CrashWorkload.Operation>();
        var trimmedAfter = new Dictionary<(string Volume, long Block), long>();
        for (var index = _applied[stream]; index <= end; index++)
        {
            var op = CrashWorkload.For(_seed, stream, index);
            for (var block = op.Offset / 4096; block < (op.Offset + op.Length) / 4096; block++)
            {
                if (index < durable)
                {
                    last[(op.Volume, block)] = op;
                }
                else if (op.Trim)
                {
                    trimmedAfter.TryAdd((op.Volume, block), index);
                }
            }
        }
        var lost = new HashSet<long>();
        foreach (var ((volume, block), op) in last)
        {
            var data = actual[volume].AsSpan((int)(block * 4096), 4096);
            var zeroes = !data.ContainsAnyExcept((byte)0);
            var held = !zeroes && BitConverter.ToInt32(data) == stream + 1 ? BitConverter.ToInt64(data[4..]) : (long?)null;
            var intact = op.Trim
                ? zeroes || held >= durable
                : held >= op.Index || (zeroes && trimmedAfter.ContainsKey((volume, block)));
            if (!intact)
            {
                lost.Add(op.Index);
            }
        }
        return lost.Count;
    }

    /// <summary>For a non-prefix image: the prefix it differs least from, and how (which
    /// operation each differing 4 KiB block holds, and which the prefix has there).</summary>
    private string NearestPrefix(int stream, Dictionary<string, byte[]> actual, long end)
    {
        var model = Clone(_models[stream]);
        (long Position, List<string> Blocks) best = (-1, []);
        for (var position = _applied[stream]; position <= end; position++)
        {
            var blocks = new List<string>();
            foreach (var (volume, expected) in model)
            {
                for (var block = 0; block < expected.Length; block += 4096)
                {
                    if (!expected.AsSpan(block, 4096).SequenceEqual(actual[volume].AsSpan(block, 4096)))
                    {
                        blocks.Add($"{volume}@{block / 4096}: {Describe(actual[volume], block)} where the prefix has {Describe(expected, block)}");
                    }
                }
            }
            if (best.Position < 0 || blocks.Count < best.Blocks.Count)
            {
                best = (position, blocks);
            }
            Advance(stream, model, position);
        }
        var later = stream == CrashWorkload.ReplicaStream
            ? []
            : Enumerable.Range(0, (int)(end - best.Position)).Select(i => CrashWorkload.For(_seed, stream, best.Position + i))
                .Where(op => best.Blocks.Any(b => b.StartsWith($"{op.Volume}@", StringComparison.Ordinal)
                    && long.Parse(b.AsSpan(op.Volume.Length + 1, b.IndexOf(':', StringComparison.Ordinal) - op.Volume.Length - 1), CultureInfo.InvariantCulture) is var block
                    && block >= op.Offset / 4096 && block < (op.Offset + op.Length) / 4096))
                .Select(op => $"op {op.Index} {(op.Trim ? "trims" : "writes")} {op.Volume}@{op.Offset / 4096}+{op.Length / 4096}");
        return $"nearest prefix {best.Position}, {best.Blocks.Count} blocks differ: {string.Join(", ", best.Blocks.Take(6))}; " +
            $"later operations there: {string.Join(", ", later.Take(6))}";
    }

    private static string Describe(byte[] data, int block)
    {
        var span = data.AsSpan(block, 4096);
        if (!span.ContainsAnyExcept((byte)0))
        {
            return "zeroes";
        }
        var stream = BitConverter.ToInt32(span) - 1;
        return stream is >= 0 and < CrashWorkload.Streams ? $"op {BitConverter.ToInt64(span[4..])}" : "other data";
    }

    /// <summary>The replica group's recovered position must be a batch boundary, and the
    /// replicas the image after exactly that many batches. Returns the position in batches
    /// (null when it is no batch boundary at or after the model's) and whether the replicas are
    /// that image; when they are not, the problem says which image they are, if any.</summary>
    private (long? Batches, bool Prefix) CheckReplica(StorageEngine engine, Dictionary<string, byte[]> actual, long durable, List<string> problems)
    {
        var stream = CrashWorkload.ReplicaStream;
        var sequence = engine.GetReplicaPosition(engine.Groups.Single(g => g.Name == CrashWorkload.ReplicaGroup)).SourceSequence;
        if (sequence % CrashWorkload.UpdatesPerBatch != 0 || sequence / CrashWorkload.UpdatesPerBatch < _applied[stream])
        {
            problems.Add($"non-prefix image: the replica group recovered at sequence {sequence}, not a batch boundary at or after batch {_applied[stream]}");
            return (null, false);
        }
        var batches = sequence / CrashWorkload.UpdatesPerBatch;
        var model = Clone(_models[stream]);
        var end = Math.Max(batches, durable) + CrashWorkload.UnackedBatches + MaxUnflushedTail;
        var images = new List<long>();
        for (var batch = _applied[stream]; batch <= end; batch++)
        {
            if (Equal(model, actual))
            {
                images.Add(batch);
            }
            Advance(stream, model, batch);
        }
        if (!images.Contains(batches))
        {
            problems.Add($"non-prefix image: the replicas differ from the image after the {batches} batches their position names; " +
                (images.Count > 0
                    ? $"they are the image after {string.Join(" or ", images)} batches"
                    : $"they are no image after {_applied[stream]}..{end} batches, {NearestPrefix(stream, actual, end)}"));
            return (batches, false);
        }
        return (batches, true);
    }

    /// <summary>Every surviving group snapshot equals the model at its cut, and the snapshots of
    /// one cut share its sequence. A cut is created whole (both or neither) and is durable once
    /// reported. The worker deletes a cut, one snapshot at a time, right after taking the cut
    /// <see cref="CrashWorkload.CutLifetime"/> later, which is then the newest one it has (and
    /// the newest is never deleted): until the engine holds a cut that late, a cut must be whole
    /// and a reported one present. Judged by the cuts the engine holds, not by the report: the
    /// worker runs on while the test reads its lines, and a run under load saw the report lag by
    /// four cuts. Returns (cuts lost, snapshots that are no image at their cut).</summary>
    private (int Lost, int Bad) CheckCuts(StorageEngine engine, List<long> indexes, List<string> problems)
    {
        int lost = 0, bad = 0;
        var newest = indexes.DefaultIfEmpty(-1).Max();
        bool MayBeDeleted(long index) => newest >= index + CrashWorkload.CutLifetime;
        if (_lastCut >= 0 && !indexes.Contains(_lastCut) && !MayBeDeleted(_lastCut))
        {
            lost++;
            problems.Add($"the group snapshot at {_lastCut}, reported created, was lost (the newest cut held is {newest})");
        }
        foreach (var index in indexes)
        {
            var snapshots = Enumerable.Range(0, CrashWorkload.GroupVolumes.Length)
                .Select(v => (Volume: v, Snapshot: engine.FindSnapshot(CrashWorkload.SnapshotName(v, index))))
                .Where(s => s.Snapshot != null)
                .ToList();
            if (!MayBeDeleted(index) && snapshots.Count != CrashWorkload.GroupVolumes.Length)
            {
                bad++;
                problems.Add($"the group snapshot at {index} holds {snapshots.Count} of its {CrashWorkload.GroupVolumes.Length} volumes");
            }
            if (snapshots.Select(s => s.Snapshot!.Sequence).Distinct().Count() > 1)
            {
                bad++;
                problems.Add($"the group snapshot at {index} was cut at several sequences");
            }
            foreach (var (volume, snapshot) in snapshots)
            {
                if (!_cuts.TryGetValue(index, out var cut) || !cut[volume].AsSpan().SequenceEqual(ReadAll(engine.OpenSnapshot(snapshot!.Id))))
                {
                    bad++;
                    problems.Add($"snapshot {snapshot!.Id} differs from the model at its cut");
                }
            }
        }
        return (lost, bad);
    }

    private void MoveTo(int stream, long position)
    {
        for (; _applied[stream] < position; _applied[stream]++)
        {
            Advance(stream, _models[stream], _applied[stream]);
        }
    }

    /// <summary>Applies operation (replica stream: batch) <paramref name="index"/> to the model,
    /// noting the group's cut when stream 0 reaches one.</summary>
    private void Advance(int stream, Dictionary<string, byte[]> model, long index)
    {
        var operations = stream == CrashWorkload.ReplicaStream
            ? CrashWorkload.OperationsOf(_seed, index)
            : [CrashWorkload.For(_seed, stream, index)];
        foreach (var op in operations)
        {
            CrashWorkload.Apply(op, model);
        }
        if (stream == 0 && (index + 1) % CrashWorkload.SnapshotEvery == 0)
        {
            _cuts[index + 1] = CrashWorkload.GroupVolumes.Select(v => (byte[])model[v].Clone()).ToArray();
        }
    }

    private static Dictionary<string, byte[]> Clone(Dictionary<string, byte[]> model) =>
        model.ToDictionary(m => m.Key, m => (byte[])m.Value.Clone());

    private static bool Equal(Dictionary<string, byte[]> model, Dictionary<string, byte[]> actual) =>
        model.All(m => m.Value.AsSpan().SequenceEqual(actual[m.Key]));

    private static long Parse(string value) => long.Parse(value, CultureInfo.InvariantCulture);

    /// <summary>What the worker printed before it died: per stream the index below which every
    /// operation was acknowledged durable (a flush, or for stream 0 a group snapshot, whose
    /// creation made every operation before its cut durable), the newest group snapshot, how
    /// many flushes completed.</summary>
    private sealed record WorkerReport(long[] Durable, long LastCut, int Flushes)
    {
        public static WorkerReport Parse(IEnumerable<string> lines, IReadOnlyList<long> applied)
        {
            var durable = applied.ToArray();
            long lastCut = -1;
            var flushes = 0;
            foreach (var fields in lines.Select(l => l.Split(' ')))
            {
                switch (fields[0])
                {
                    case "F":
                        durable[0] = CrashWorkloadModel.Parse(fields[1]);
                        durable[1] = CrashWorkloadModel.Parse(fields[2]);
                        flushes++;
                        break;
                    case "R":
                        durable[CrashWorkload.ReplicaStream] = CrashWorkloadModel.Parse(fields[1]);
                        break;
                    case "S":
                        lastCut = Math.Max(lastCut, CrashWorkloadModel.Parse(fields[1]));
                        durable[0] = Math.Max(durable[0], lastCut);
                        break;
                }
            }
            return new WorkerReport(durable, lastCut, flushes);
        }
    }
}

/// <summary>One check's figures.</summary>
/// <param name="Durable">Per stream, what the worker had acknowledged as durable.</param>
/// <param name="Recovered">Per stream, the prefix recovered.</param>
/// <param name="Flushes">Flushes the worker completed.</param>
/// <param name="LostDurable">Operations, batches and group snapshots acknowledged as durable that did not survive.</param>
/// <param name="NonPrefixImages">Images (a stream's volumes, the replicas, a snapshot) that are no prefix of their stream.</param>
/// <param name="Problems">Every problem found, in words.</param>
internal sealed record CrashCheck(long[] Durable, long[] Recovered, int Flushes, long LostDurable, int NonPrefixImages, IReadOnlyList<string> Problems)
{
    public bool Clean => Problems.Count == 0;

    /// <summary>Records this check as one case of <paramref name="figures"/> — a failure when it
    /// lost a durable operation or (unless <paramref name="prefixRequired"/> is false) found a
    /// non-prefix image — and adds its counts.</summary>
    public void Report(CsiDriver.ConformanceTests.Faults.FaultFigures figures, string round, bool prefixRequired = true)
    {
        var failed = LostDurable > 0 || (prefixRequired && NonPrefixImages > 0);
        figures.Case(failed ? $"{round}: {this}" : null);
        figures.Count("lost durable operations", LostDurable);
        figures.Count("non-prefix images", NonPrefixImages);
        figures.Count("workload flushes", Flushes);
    }

    public override string ToString() =>
        $"durable {string.Join('/', Durable)}, recovered {string.Join('/', Recovered)}, {Flushes} flushes" +
        (Clean ? "" : $"; {LostDurable} durable lost, {NonPrefixImages} non-prefix images: {string.Join("; ", Problems)}");
}
