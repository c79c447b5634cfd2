using System.Text;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Layers;

namespace CsiDriver.Engine;

internal sealed partial class Catalog
{
    /// <summary>
    /// Snapshots several volumes at one atomic cut. Within a group the cut is a sequence (one
    /// snapshot record, every earlier record in, every later one out); across groups every
    /// group's writers are held at once, the gates taken in a fixed order so concurrent cuts
    /// cannot deadlock. <paramref name="cut"/> tells the sequence per group and how long
    /// writers were held. The snapshots are durable when this returns: like a FLUSH, that syncs
    /// the journal written since the last flush, so its cost follows unflushed data, not volume
    /// size. Each takes constant time, whatever the volume's size: the volume's top layer is
    /// frozen and a new empty one started on top of it. Every snapshot gets <paramref name="purpose"/>.
    /// </summary>
    public IReadOnlyList<Snapshot> CreateGroupSnapshot(IReadOnlyList<(string VolumeId, string SnapshotId)> members, SnapshotPurpose purpose, out GroupCut cut)
    {
        if (!Enum.IsDefined(purpose))
        {
            throw new ArgumentException($"snapshot purpose {(int)purpose} is not one the engine knows", nameof(purpose));
        }
        if (members.Count == 0)
        {
            throw new ArgumentException("a group snapshot needs at least one volume", nameof(members));
        }
        foreach (var (volumeId, snapshotId) in members)
        {
            VolumeIds.Validate(volumeId);
            VolumeIds.Validate(snapshotId);
        }
        if (members.Select(m => m.SnapshotId).Distinct().Count() != members.Count || members.Select(m => m.VolumeId).Distinct().Count() != members.Count)
        {
            throw new ArgumentException("snapshot ids and volume ids must each be distinct", nameof(members));
        }
        // A snapshot whose save failed (below) left its frozen layers hidden under the volumes'
        // tops: merged first, so snapshots retried while the disk stays full do not add a layer
        // each (one more step for every read that misses the top, and data rewritten since held
        // twice). Merging takes a checkpoint and room to copy: a disk still full refuses the
        // retry here, before it adds another.
        if (HasCompactable())
        {
            using (_checkpointer.Exclusive())
            lock (_lock)
            {
                CompactHidden();
            }
        }
        lock (_lock)
        {
            foreach (var (_, snapshotId) in members)
            {
                if (_snapshots.ContainsKey(snapshotId))
                {
                    throw new SnapshotExistsException(snapshotId);
                }
            }
            var volumes = members.Select(m => (Volume: GetVolume(m.VolumeId), m.SnapshotId)).ToList();
            volumes.ForEach(m => m.Volume.Group.CheckNotResyncing("a snapshot"));
            var nextTops = NewLayers(volumes.Select(m => m.Volume), _ => null, v => v.Size).ToDictionary(m => m.Owner, m => m.Layer);
            var byGroup = volumes.GroupBy(m => m.Volume.Group).ToList();
            var createdAt = _options.Clock.GetUtcNow();
            var snapshots = new List<Snapshot>();
            var points = new List<GroupCutPoint>();
            TimeSpan pauseTime;
            using (var pause = new GroupPause(byGroup.Select(g => g.Key)))
            {
                foreach (var group in byGroup)
                {
                    var payload = Encoding.UTF8.GetBytes(string.Concat(group.Select(m => $"{m.Volume.Number} {m.SnapshotId}\n")));
                    var sequence = group.Key.Journal.Append(JournalRecordKind.Snapshot, 0, 0, 0, payload, group.Key.Journal.NowMicros());
                    foreach (var (volume, snapshotId) in group)
                    {
                        var frozen = Freeze(volume, group.Key, nextTops[volume]);
                        var snapshot = new Snapshot(snapshotId, volume.Id, frozen.SizeBytes, createdAt, sequence, group.Key.Name, purpose, frozen);
                        frozen.Snapshot = snapshot;
                        snapshots.Add(snapshot);
                    }
                    points.Add(new GroupCutPoint(group.Key, sequence, group.Select(m => m.Volume.Id).ToArray(), group.Key.Replica?.Position));
                }
                pauseTime = pause.Elapsed;
            }
            snapshots.ForEach(s => _snapshots[s.Id] = s);
            // Save syncs each journal through its snapshot record before the catalog names the
            // new tops that start after it (the invariant at the top of Catalog.cs); the pause
            // drained every record before the cut, so after a power cut recovery replays them
            // into the frozen layers. The sync runs on this thread (see GroupCommit: nothing
            // here may wait for the thread pool under the lock).
            // Should it fail, not created: no snapshot is named, here or on disk. The volumes
            // already write their new tops, so the frozen layers stay under them as hidden
            // layers (what a clone leaves); the owed save records them, and the snapshot record
            // in the journal names nothing a catalog holds (as after a crash before this save).
            SaveOrUndo(() =>
            {
                foreach (var snapshot in snapshots)
                {
                    _snapshots.TryRemove(snapshot.Id, out _);
                    snapshot.Layer.Snapshot = null;
                }
            });
            cut = new GroupCut(points, pauseTime);
            return snapshots;
        }
    }

    /// <summary>Freezes the volume's top layer and starts <paramref name="next"/> (created before
    /// the pause, so no file is created while writers wait) over it; returns the frozen one.
    /// Caller has paused the volume's group.</summary>
    private static Layer Freeze(Volume volume, ConsistencyGroup group, Layer next)
    {
        var frozen = volume.Top;
        frozen.Owner = null;
        frozen.SizeBytes = volume.Size;
        frozen.Children++;
        next.Parent = frozen;
        next.Map.Grow(ChunksFor(volume.Size));
        StartTop(volume, next, group);
        return frozen;
    }

    /// <summary>
    /// Deletes a snapshot, in any order; false if it does not exist. Nothing is copied up front:
    /// its layer is freed if nothing else uses it; kept (hidden) if clones or later layers read
    /// through it, in which case a hidden layer with a single child is merged into that child
    /// (copying only the chunks the child does not already hold, see <see cref="CompactHidden"/>).
    /// </summary>
    public bool DeleteSnapshot(string snapshotId)
    {
        using (_checkpointer.Exclusive())
        lock (_lock)
        {
            if (!_snapshots.TryRemove(snapshotId, out var snapshot))
            {
                SaveIfOwed(); // a retry of a delete whose save failed completes it
                return false;
            }
            snapshot.Layer.Snapshot = null;
            var dropped = Unlink(snapshot.Layer);
            Save(() => dropped.ForEach(layer => layer.DeleteFiles()));
            CompactHidden();
            return true;
        }
    }

    /// <summary>A new writable volume whose content starts as the snapshot's; it reads through the
    /// snapshot's layers (nothing is copied) and writes into its own.</summary>
    public Volume CreateVolumeFromSnapshot(string volumeId, string snapshotId, long capacityBytes, string? consistencyGroup) =>
        CreateOver(volumeId, capacityBytes, consistencyGroup, () =>
        {
            var snapshot = GetSnapshot(snapshotId);
            CheckHolds(capacityBytes, snapshot.SizeBytes, $"snapshot '{snapshotId}'");
            return snapshot.Layer;
        });

    /// <summary>A new writable volume whose content starts as the source volume's now: the
    /// source's top layer is frozen (hidden, as for a snapshot nobody names) and both volumes
    /// continue in new layers over it. Nothing is copied.</summary>
    public Volume CloneVolume(string volumeId, string sourceVolumeId, long capacityBytes, string? consistencyGroup) =>
        CreateOver(volumeId, capacityBytes, consistencyGroup, () =>
        {
            var source = GetVolume(sourceVolumeId);
            source.Group.CheckNotResyncing("a clone");
            CheckHolds(capacityBytes, source.Size, $"volume '{sourceVolumeId}'");
            var next = NewLayer(null, source.Size);
            using (new GroupPause([source.Group]))
            {
                return Freeze(source, source.Group, next);
            }
        });

    /// <summary>A new volume over the layer <paramref name="baseLayer"/> gives (under both locks).
    /// That layer is made durable by a checkpoint first: the new volume's group may be replayed
    /// before the one that wrote the layer after a crash, and copies into the new volume read it,
    /// so it must be complete on disk and the new volume never depends on another group's replay.</summary>
    private Volume CreateOver(string volumeId, long capacityBytes, string? consistencyGroup, Func<Layer> baseLayer)
    {
        CheckNewVolume(volumeId, capacityBytes, consistencyGroup);
        using (_checkpointer.Exclusive())
        lock (_lock)
        {
            CheckVolumeAbsent(volumeId);
            var parent = baseLayer();
            _checkpointer.CheckpointHeld();
            return AddVolume(volumeId, capacityBytes, consistencyGroup, parent);
        }
    }

    private static void CheckHolds(long capacityBytes, long sourceBytes, string source)
    {
        if (capacityBytes < sourceBytes)
        {
            throw new OutOfRangeException($"capacity {capacityBytes} is smaller than {source} of {sourceBytes} bytes");
        }
    }

    /// <summary>Every member of the paused <paramref name="group"/> continues in a new empty top
    /// layer over <paramref name="baseOf"/>'s layer (nothing when it has none), nothing copied;
    /// the catalog is saved. Returns the former tops for <see cref="Drop"/> once the group runs
    /// again. Caller holds this lock and has paused the group with no record after its last
    /// checkpoint (a record is replayed into the top it was written to, which leaves the chain here).
    /// When it fails (no space for a layer's files or the catalog) nothing has changed.</summary>
    public IReadOnlyList<Layer> RestartTops(ConsistencyGroup group, Func<Volume, Snapshot?> baseOf)
    {
        lock (_lock)
        {
            var restarts = NewLayers(group.Members, v => baseOf(v)?.Layer, v => v.Size)
                .Select(m => (Volume: m.Owner, Former: m.Owner.Top, Next: m.Layer)).ToList();
            foreach (var (volume, former, next) in restarts)
            {
                former.Owner = null;
                StartTop(volume, next, group);
            }
            SaveOrUndo(() =>
            {
                foreach (var (volume, former, next) in restarts)
                {
                    next.Owner = null;
                    former.Owner = volume;
                    volume.Top = former;
                    Discard(next);
                }
            });
            return restarts.Select(r => r.Former).ToList();
        }
    }

    /// <summary>Forgets the former tops <see cref="RestartTops"/> returned, and their files.</summary>
    public void Drop(IReadOnlyList<Layer> formerTops)
    {
        lock (_lock)
        {
            formerTops.SelectMany(Unlink).ToList().ForEach(layer => layer.DeleteFiles());
        }
    }

    /// <summary>
    /// Merges hidden layers (no volume writes them, no snapshot names them) that have exactly
    /// one child into that child, so chains do not grow with deleted snapshots: the child gets
    /// the chunks it lacks, the checkpoint makes that durable, then the hidden layer is cut out
    /// of the chain. A hidden layer at the base of its chain is left in place: merging it would
    /// copy the whole volume, and one extra lookup per chunk is cheaper.
    /// Caller holds the checkpoint lock and this lock.
    /// Crash safety: until the catalog is saved the hidden layer is still in the chain and the
    /// child's extra chunks hold the same bytes the hidden layer would have supplied.
    /// </summary>
    private void CompactHidden()
    {
        while (_layers.Values.FirstOrDefault(IsCompactable) is { } hidden)
        {
            var child = _layers.Values.Single(l => l.Parent == hidden);
            lock (child.Owner?.ApplyLock ?? child)
            {
                try
                {
                    LayerChain.CopyMissing(hidden, child);
                }
                catch (IOException e) when (Native.IsDiskFull(e))
                {
                    // The chunks copied so far hold what the hidden layer, still in the chain, holds too.
                    throw new InsufficientSpaceException("no space to merge a hidden layer into its child", e);
                }
            }
            _checkpointer.CheckpointHeld();
            child.Parent = hidden.Parent;
            _layers.Remove(hidden.Id);
            Save(hidden.DeleteFiles);
        }
    }

    private bool HasCompactable()
    {
        lock (_lock)
        {
            return _layers.Values.Any(IsCompactable);
        }
    }

    /// <summary>A hidden layer (no volume writes it, no snapshot names it) with one child, not at the base of its chain.</summary>
    private static bool IsCompactable(Layer layer) => layer is { Owner: null, Snapshot: null, Children: 1, Parent: not null };

    /// <summary>The chunks holding data in the snapshot (everything else reads as zeroes), as
    /// ascending, merged ranges. A chunk discarded after an older snapshot is listed (it hides
    /// the older data) although it reads as zeroes.</summary>
    public IReadOnlyList<ChunkRange> AllocatedChunks(string snapshotId)
    {
        lock (_lock)
        {
            var snapshot = GetSnapshot(snapshotId);
            return Union(Ancestry(snapshot.Layer), snapshot.SizeBytes);
        }
    }

    /// <summary>
    /// The chunks that may differ between two snapshots (of one volume, or of volumes related by
    /// cloning), as ascending, merged ranges within the larger size: every chunk held by a
    /// layer on either side of their nearest common layer. A chunk written with the same bytes
    /// again is listed too; a chunk not listed is certainly equal.
    /// </summary>
    public IReadOnlyList<ChunkRange> ChangedChunks(string baseSnapshotId, string targetSnapshotId)
    {
        lock (_lock)
        {
            var baseline = GetSnapshot(baseSnapshotId);
            var target = GetSnapshot(targetSnapshotId);
            var baseChain = Ancestry(baseline.Layer);
            var targetChain = Ancestry(target.Layer);
            var common = targetChain.Intersect(baseChain).ToHashSet();
            var differing = baseChain.Concat(targetChain).Where(l => !common.Contains(l)).ToList();
            return Union(differing, Math.Max(target.SizeBytes, baseline.SizeBytes));
        }
    }

    /// <summary>
    /// The chunk-level delta of <see cref="ChangedChunks"/> with what the journal needs to refine
    /// it (see JournalConsumers.ChangedBlocks.cs), read at one instant: the group whose journal
    /// wrote every layer between the two snapshots, when the target reads through the base's own
    /// layer and those layers all came from one journal; otherwise no group, and why not.
    /// </summary>
    public DeltaPlan PlanDelta(string baseSnapshotId, string targetSnapshotId)
    {
        lock (_lock)
        {
            var baseline = GetSnapshot(baseSnapshotId);
            var target = GetSnapshot(targetSnapshotId);
            var chunks = ChangedChunks(baseSnapshotId, targetSnapshotId);
            var size = Math.Max(target.SizeBytes, baseline.SizeBytes);
            var targetChain = Ancestry(target.Layer);
            var between = targetChain.TakeWhile(l => l != baseline.Layer).ToList();
            if (between.Count == 0 || between[^1].Parent != baseline.Layer)
            {
                var shared = targetChain.Intersect(Ancestry(baseline.Layer)).Any();
                var why = shared ? "the target does not descend from the base's layer (not a later snapshot of the same volume)" : "the snapshots share no history";
                return new DeltaPlan(baseline, target, size, chunks, shared, null, why);
            }
            var journal = between[0].Journal;
            if (baseline.ConsistencyGroup != target.ConsistencyGroup || between.Any(l => l.Journal != journal) || _groups.GetValueOrDefault(journal) is not { } group)
            {
                return new DeltaPlan(baseline, target, size, chunks, true, null, "the volume changed consistency group between the snapshots");
            }
            return new DeltaPlan(baseline, target, size, chunks, true, group, null);
        }
    }

    private static List<Layer> Ancestry(Layer layer)
    {
        var chain = new List<Layer>();
        for (Layer? current = layer; current != null; current = current.Parent)
        {
            chain.Add(current);
        }
        return chain;
    }

    private static List<ChunkRange> Union(IEnumerable<Layer> layers, long sizeBytes)
    {
        var union = ChunkMap.NewWords(ChunksFor(sizeBytes));
        foreach (var layer in layers)
        {
            layer.Map.OrInto(union);
        }
        return ChunkRange.Coalesce(ChunkMap.ChunksOf(union), sizeBytes).ToList();
    }
}

/// <summary>What <see cref="Catalog.PlanDelta"/> read: the two snapshots, the size the delta
/// covers, the changed chunks, whether the two share a layer, and the group whose journal may
/// refine the chunks (or why none).</summary>
internal sealed record DeltaPlan(Snapshot Base, Snapshot Target, long SizeBytes, IReadOnlyList<ChunkRange> Chunks, bool SharesHistory, ConsistencyGroup? Group, string? NoJournal);
