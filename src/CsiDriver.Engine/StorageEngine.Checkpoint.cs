using System.Diagnostics;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Layers;
using CsiDriver.Engine.Metadata;

namespace CsiDriver.Engine;

public sealed partial class StorageEngine
{
    private readonly object _checkpointLock = new();
    private CancellationTokenSource? _checkpointerStop;
    private Task? _checkpointer;

    /// <summary>
    /// Makes the data files reflect the journals durably up to a cut, so the journals before it
    /// are no longer needed for recovery: pause every group for a moment to read its sequence
    /// and copy the changed chunk maps, then (writers and structural operations running again)
    /// sync the changed data files, write the maps, sync the journals, and finally write the checkpoint file naming
    /// the cut. Journal segments wholly before the cut and before every consumer's position are
    /// then released. Checkpoints never overlap: a later one always names a later cut.
    /// </summary>
    public void Checkpoint()
    {
        lock (_checkpointLock)
        {
            CheckpointHeld();
        }
    }

    /// <summary>The checkpoint itself; the caller holds <see cref="_checkpointLock"/> (which is
    /// always taken before the structure lock, never after it).</summary>
    private void CheckpointHeld()
    {
        var cut = new List<(ConsistencyGroup Group, long Sequence, long Appended, Replication.ReplicaState? Replica)>();
        var maps = new List<(Layer Layer, byte[] Bits)>();
        var data = new List<Layer>();
        long pauseMicros;
        lock (_structure)
        {
            if (_disposed)
            {
                return;
            }
            using var pause = new GroupPause(_groups.Values);
            foreach (var group in _groups.Values)
            {
                cut.Add((group, group.Journal.LastSequence, group.Journal.AppendedBytes, group.Replica));
            }
            foreach (var layer in _layers.Values)
            {
                if (layer.Map.IsDirty)
                {
                    maps.Add((layer, layer.Map.TakeForCheckpoint()));
                }
                if (layer.DataDirty)
                {
                    layer.DataDirty = false;
                    data.Add(layer);
                }
            }
            pauseMicros = (long)pause.Elapsed.TotalMicroseconds;
        }
        try
        {
            foreach (var layer in data)
            {
                Native.DataSync(layer.Handle);
            }
            foreach (var (layer, bits) in maps)
            {
                MetadataFile.Write(layer.MapPath, ChunkMap.FileMagic, bits);
            }
        }
        catch
        {
            // The marks were cleared when the cut was taken. The next checkpoint names a later
            // cut, after which these records are never replayed again, so it must sync and
            // write what this one could not: the checkpoint file only ever follows every data
            // file and chunk map it covers.
            maps.ForEach(m => m.Layer.Map.MarkDirty());
            data.ForEach(layer => layer.DataDirty = true);
            throw;
        }
        // The journals up to the cut stay readable after a crash for consumers that have not
        // passed them yet (replication ships from the journal, not from the data files).
        foreach (var (group, _, _, _) in cut)
        {
            group.Journal.Sync();
        }
        lock (_structure)
        {
            var document = new CheckpointDocument
            {
                Journals = cut.Select(c => new CheckpointEntry(
                    c.Group.JournalName,
                    c.Sequence,
                    c.Group.Consumers.Values.Select(k => new ConsumerEntry(k.Name, k.Position, k.Overrun)).ToList(),
                    c.Replica)).ToList(),
            };
            MetadataFile.Write(CheckpointPath, CheckpointDocument.FileMagic, document.Serialize(), CheckpointDocument.Version, document.MinCompatibleVersion);
            foreach (var (group, sequence, appended, _) in cut.Where(c => _groups.ContainsKey(c.Group.JournalName)))
            {
                group.CheckpointSequence = sequence;
                group.AppendedAtCheckpoint = appended;
                group.Commit.MarkDurable(sequence);
                ApplyRetention(group);
            }
        }
        EngineLog.CheckpointWritten(_logger, cut.Count, data.Count, maps.Count, pauseMicros);
    }

    /// <summary>Releases journal segments nobody needs: not recovery (before the checkpoint) and
    /// not a consumer (before its position). Past the budget, segments the checkpoint has passed
    /// go even if a consumer still needed them; that consumer is marked overrun, and what the
    /// released records touched is added to its dirty-chunk set first (see StorageEngine.DirtyChunks.cs).</summary>
    private void ApplyRetention(ConsistencyGroup group)
    {
        var floor = group.Consumers.Values.Where(c => !c.Overrun)
            .Aggregate(group.CheckpointSequence, (min, c) => Math.Min(min, c.Position));
        TrackReleased(group, floor, group.Consumers.Values.Where(c => c.Overrun).ToList());
        group.Journal.ReleaseThrough(floor);
        var budget = RetentionBudgetOf(group);
        if (group.Journal.RetainedBytes <= budget)
        {
            return;
        }
        var released = group.Journal.ReleasePointForBudget(budget, group.CheckpointSequence);
        TrackReleased(group, released, group.Consumers.Values.Where(c => c.Overrun || c.Position < released).ToList());
        group.Journal.ReleaseThrough(released);
        foreach (var consumer in group.Consumers.Values.Where(c => !c.Overrun && c.Position < released))
        {
            consumer.Overrun = true;
            EngineLog.ConsumerOverrun(_logger, group.JournalName, budget, consumer.Name, consumer.Position, released);
            RetentionBudgetExceeded?.Invoke(this, new RetentionBudgetExceededEventArgs(group.JournalName, consumer.Name, consumer.Position, released));
        }
    }

    private void StartCheckpointer()
    {
        if (!_options.BackgroundCheckpoints)
        {
            return;
        }
        _checkpointerStop = new CancellationTokenSource();
        var stop = _checkpointerStop.Token;
        _checkpointer = Task.Run(async () =>
        {
            var last = Stopwatch.GetTimestamp();
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                if (!CheckpointDue(Stopwatch.GetElapsedTime(last)))
                {
                    StartDataWriteback();
                }
                else
                {
                    try
                    {
                        Checkpoint();
                    }
                    catch (Exception e) when (e is IOException or CorruptionException or InsufficientSpaceException or UnauthorizedAccessException)
                    {
                        EngineLog.CheckpointFailed(_logger, e);
                    }
                    last = Stopwatch.GetTimestamp();
                }
            }
        }, CancellationToken.None);
    }

    /// <summary>Between checkpoints the data files' dirty pages go to disk a little at a time
    /// (writeback started, not waited for): otherwise a checkpoint's fdatasync writes everything
    /// since the last one in one burst, and every journal sync on the same disk (a FLUSH, a FUA
    /// write, a replica batch) waits behind it. A hint only: durability is still the checkpoint's.</summary>
    private void StartDataWriteback()
    {
        List<Layer> dirty;
        lock (_structure)
        {
            dirty = _layers.Values.Where(l => l.DataDirty).ToList();
        }
        foreach (var layer in dirty)
        {
            try
            {
                Native.StartWriteback(layer.Handle);
            }
            catch (Exception e) when (e is ObjectDisposedException or IOException)
            {
                // The layer was deleted meanwhile, or the file system declined: nothing to hurry.
            }
        }
    }

    /// <summary>A checkpoint is due when a journal grew past the recovery bound since the last
    /// one (or past a quarter of its retention budget: only checkpoints release segments), or
    /// the interval passed and anything was written.</summary>
    private bool CheckpointDue(TimeSpan sinceLast)
    {
        lock (_structure)
        {
            return _groups.Values.Any(g =>
            {
                var grown = g.Journal.AppendedBytes - g.AppendedAtCheckpoint;
                return grown >= Math.Min(_options.CheckpointJournalBytes, RetentionBudgetOf(g) / 4) || (grown > 0 && sinceLast >= _options.CheckpointInterval);
            });
        }
    }

    private void StopCheckpointer()
    {
        _checkpointerStop?.Cancel();
        _checkpointer?.Wait();
        _checkpointerStop?.Dispose();
        _checkpointerStop = null;
        _checkpointer = null;
    }
}

/// <summary>Raised when a journal outgrew its retention budget and released records a consumer
/// had not passed yet.</summary>
public sealed class RetentionBudgetExceededEventArgs(string journal, string consumer, long consumerPosition, long releasedThrough) : EventArgs
{
    public string Journal { get; } = journal;

    public string Consumer { get; } = consumer;

    public long ConsumerPosition { get; } = consumerPosition;

    public long ReleasedThrough { get; } = releasedThrough;
}
