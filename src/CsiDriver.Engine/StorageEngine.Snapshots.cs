using System.Text;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Layers;

namespace CsiDriver.Engine;

public sealed partial class StorageEngine
{
    public IReadOnlyCollection<Snapshot> Snapshots => _snapshots.Values.ToArray();

    public Snapshot? FindSnapshot(string snapshotId) => _snapshots.GetValueOrDefault(snapshotId);

    /// <summary>Takes a snapshot in constant time, whatever the volume's size: the volume's top
    /// layer is frozen and a new empty one started on top of it.</summary>
    public Snapshot CreateSnapshot(string volumeId, string snapshotId) =>
        CreateGroupSnapshot([(volumeId, snapshotId)], out _)[0];

    public IReadOnlyList<Snapshot> CreateGroupSnapshot(IReadOnlyList<(string VolumeId, string SnapshotId)> members) =>
        CreateGroupSnapshot(members, out _);

    /// <summary>
    /// Snapshots several volumes at one atomic cut. Within a group the cut is a sequence (one
    /// snapshot record, every earlier record in, every later one out); across groups every
    /// group's writers are held at once, the gates taken in a fixed order so concurrent cuts
    /// cannot deadlock. <paramref name="cut"/> tells the sequence per journal and how long
    /// writers were held. The snapshots are durable when this returns: like a FLUSH, that syncs
    /// the journal written since the last flush, so its cost follows unflushed data, not volume size.
    /// </summary>
    public IReadOnlyList<Snapshot> CreateGroupSnapshot(IReadOnlyList<(string VolumeId, string SnapshotId)> members, out GroupCut cut)
    {
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
        lock (_structure)
        {
            foreach (var (_, snapshotId) in members)
            {
                if (_snapshots.ContainsKey(snapshotId))
                {
                    throw new SnapshotExistsException(snapshotId);
                }
            }
            var volumes = members.Select(m => (Volume: GetVolume(m.VolumeId), m.SnapshotId)).ToList();
            volumes.ForEach(m => CheckNotResyncing(m.Volume.Group, "a snapshot"));
            var nextTops = volumes.ToDictionary(m => m.Volume, m => NewLayer(null, m.Volume.Size));
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
                        var snapshot = new Snapshot(snapshotId, volume.Id, frozen.SizeBytes, createdAt, sequence, group.Key.Name, frozen);
                        frozen.Snapshot = snapshot;
                        snapshots.Add(snapshot);
                    }
                    points.Add(new GroupCutPoint(group.Key.JournalName, group.Key.Name, sequence, group.Select(m => m.Volume.Id).ToArray(), group.Key.Replica?.Position));
                }
                pauseTime = pause.Elapsed;
            }
            snapshots.ForEach(s => _snapshots[s.Id] = s);
            // The catalog naming the snapshots, then the journals up to the cut, synced on this
            // thread (see GroupCommit: nothing here may wait for the thread pool under the lock).
            SaveCatalog();
            byGroup.ForEach(g => g.Key.Commit.WaitDurable(g.Key.Journal.LastSequence));
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
        lock (_checkpointLock)
        lock (_structure)
        {
            if (!_snapshots.TryRemove(snapshotId, out var snapshot))
            {
                return false;
            }
            snapshot.Layer.Snapshot = null;
            var dropped = Unlink(snapshot.Layer);
            SaveCatalog();
            dropped.ForEach(layer => layer.DeleteFiles());
            CompactHidden();
            return true;
        }
    }

    public IBlockDevice OpenSnapshot(string snapshotId) =>
        new SnapshotDevice(FindSnapshot(snapshotId) ?? throw new SnapshotNotFoundException(snapshotId), this);

    /// <summary>A new writable volume whose content starts as the snapshot's; it reads through the
    /// snapshot's layers (nothing is copied) and writes into its own.</summary>
    public Volume CreateVolumeFromSnapshot(string volumeId, string snapshotId, long capacityBytes, string? consistencyGroup = null)
    {
        VolumeIds.Validate(volumeId);
        ValidateGroupName(consistencyGroup);
        CheckCapacity(capacityBytes);
        lock (_checkpointLock)
        lock (_structure)
        {
            CheckVolumeAbsent(volumeId);
            var snapshot = FindSnapshot(snapshotId) ?? throw new SnapshotNotFoundException(snapshotId);
            if (capacityBytes < snapshot.SizeBytes)
            {
                throw new OutOfRangeException($"capacity {capacityBytes} is smaller than snapshot '{snapshotId}' of {snapshot.SizeBytes} bytes");
            }
            CheckpointHeld(); // see CloneVolume
            var volume = AddVolume(volumeId, capacityBytes, consistencyGroup, snapshot.Layer);
            SaveCatalog();
            return volume;
        }
    }

    /// <summary>A new writable volume whose content starts as the source volume's now: the
    /// source's top layer is frozen (hidden, as for a snapshot nobody names) and both volumes
    /// continue in new layers over it. Nothing is copied; the shared layer is made durable by a
    /// checkpoint, so the clone never depends on another group's journal replay.</summary>
    public Volume CloneVolume(string volumeId, string sourceVolumeId, long capacityBytes, string? consistencyGroup = null)
    {
        VolumeIds.Validate(volumeId);
        ValidateGroupName(consistencyGroup);
        CheckCapacity(capacityBytes);
        lock (_checkpointLock)
        lock (_structure)
        {
            CheckVolumeAbsent(volumeId);
            var source = GetVolume(sourceVolumeId);
            CheckNotResyncing(source.Group, "a clone");
            if (capacityBytes < source.Size)
            {
                throw new OutOfRangeException($"capacity {capacityBytes} is smaller than volume '{sourceVolumeId}' of {source.Size} bytes");
            }
            var next = NewLayer(null, source.Size);
            Layer frozen;
            using (new GroupPause([source.Group]))
            {
                frozen = Freeze(source, source.Group, next);
            }
            // The clone's group may be replayed before the source's after a crash; copies into
            // the clone read the shared layer, so it must be complete on disk first.
            CheckpointHeld();
            var volume = AddVolume(volumeId, capacityBytes, consistencyGroup, frozen);
            SaveCatalog();
            return volume;
        }
    }

    /// <summary>
    /// Merges hidden layers (no volume writes them, no snapshot names them) that have exactly
    /// one child into that child, so chains do not grow with deleted snapshots: the child gets
    /// the chunks it lacks, the checkpoint makes that durable, then the hidden layer is cut out
    /// of the chain. A hidden layer at the base of its chain is left in place: merging it would
    /// copy the whole volume, and one extra lookup per chunk is cheaper.
    /// Caller holds the checkpoint lock and the structure lock.
    /// Crash safety: until the catalog is saved the hidden layer is still in the chain and the
    /// child's extra chunks hold the same bytes the hidden layer would have supplied.
    /// </summary>
    private void CompactHidden()
    {
        while (_layers.Values.FirstOrDefault(l => l is { Owner: null, Snapshot: null, Children: 1, Parent: not null }) is { } hidden)
        {
            var child = _layers.Values.Single(l => l.Parent == hidden);
            lock (child.Owner?.ApplyLock ?? child)
            {
                LayerChain.CopyMissing(hidden, child);
            }
            CheckpointHeld();
            child.Parent = hidden.Parent;
            _layers.Remove(hidden.Id);
            SaveCatalog();
            hidden.DeleteFiles();
        }
    }
}
