using System.Collections.Concurrent;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Layers;
using CsiDriver.Engine.Metadata;
using CsiDriver.Engine.Replication;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Engine;

/// <summary>
/// The engine's structure: volumes, snapshots, the layers under them and the consistency groups,
/// written whole to <c>catalog</c> on every change (<see cref="CatalogDocument"/>).
/// <para>State: the collections and id counters below, each volume's group and top layer, and
/// each layer's place in its chain. Lock: the structure lock, held for a whole structural
/// operation. The data path never takes it; readers of a volume, a snapshot or a group take no
/// lock (those maps are concurrent, and an entry is complete before it is added).</para>
/// <para>Lock order: the checkpoint lock (<see cref="Checkpointer.Exclusive"/>) before this one,
/// this one before any group's gate (<see cref="GroupPause"/>). So an operation here that needs a
/// checkpoint on the way (delete, move, clone, a volume from a snapshot, compaction) enters the
/// checkpointer first, and a component that pauses groups to change the structure (the replica
/// applier) takes <see cref="Hold"/> first.</para>
/// <para>A group ends (a group of one whose volume is deleted or moves into a named group) only
/// under the checkpoint lock, or, made by a create that failed, before anyone could see it:
/// checkpoints and the journal consumers rely on a group they hold not ending under them.</para>
/// <para>On-disk invariant: the catalog never names a sequence its journal could still lose. Each
/// top layer's start sequence − 1 and each volume's joined sequence are durable in the group's
/// journal before a catalog naming them is written (<see cref="Save"/> syncs first). Otherwise a
/// power cut could keep the catalog and take the journal's unsynced tail; the journal would hand
/// those sequences out again after recovery, and a later replay, which routes each record to the
/// layer that was its volume's top when it was written (the topmost whose start sequence is not
/// after it) and skips a volume's records up to its joined sequence, would put the new records
/// into a snapshot's frozen layer or drop them.</para>
/// </summary>
internal sealed partial class Catalog
{
    private readonly object _lock = new();
    private readonly ConcurrentDictionary<string, Volume> _volumes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Snapshot> _snapshots = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConsistencyGroup> _groups = new(StringComparer.Ordinal);
    private readonly Dictionary<long, Layer> _layers = [];
    private readonly string _path;
    private readonly string _layerDirectory;
    private readonly string _journalDirectory;
    private readonly EngineOptions _options;
    private readonly Checkpointer _checkpointer;
    private readonly ILogger _logger;
    private long _nextLayerId = 1;
    private uint _nextVolumeNumber = 1;
    private bool _closed;

    /// <summary>A save failed (no space, say): the file on disk is older than the structure here.
    /// The next checkpoint saves first (see <see cref="TakeCut"/>).</summary>
    private bool _saveOwed;

    /// <summary>Deletions of files the structure here no longer names, waiting for a save that
    /// succeeds: until one has, the catalog on disk still names them.</summary>
    private readonly List<Action> _afterSave = [];

    private Catalog(string dataDirectory, EngineOptions options, Checkpointer checkpointer, ILogger logger)
    {
        _path = Path.Combine(dataDirectory, "catalog");
        _layerDirectory = Path.Combine(dataDirectory, "layers");
        _journalDirectory = Path.Combine(dataDirectory, "journals");
        _options = options;
        _checkpointer = checkpointer;
        _logger = logger;
    }

    public IReadOnlyCollection<Volume> Volumes => _volumes.Values.ToArray();

    public IReadOnlyCollection<Snapshot> Snapshots => _snapshots.Values.ToArray();

    public IReadOnlyCollection<ConsistencyGroup> Groups => _groups.Values.ToArray();

    /// <summary>Where each group's journal directory is (its dirty-chunk sets live there too).</summary>
    public string JournalDirectory => _journalDirectory;

    /// <summary>The structure lock, lent for a change of several steps (see the lock order above).</summary>
    public Held Hold() => new(_lock);

    public Volume? FindVolume(string volumeId) => _volumes.GetValueOrDefault(volumeId);

    public Volume GetVolume(string volumeId) => FindVolume(volumeId) ?? throw new VolumeNotFoundException(volumeId);

    public Snapshot? FindSnapshot(string snapshotId) => _snapshots.GetValueOrDefault(snapshotId);

    public Snapshot GetSnapshot(string snapshotId) => FindSnapshot(snapshotId) ?? throw new SnapshotNotFoundException(snapshotId);

    /// <summary>The group, if it still exists.</summary>
    /// <exception cref="ArgumentException">It ended (a group of one whose volume was deleted or moved).</exception>
    public ConsistencyGroup Require(ConsistencyGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        return IsLive(group) ? group : throw new ArgumentException($"consistency group '{group}' no longer exists", nameof(group));
    }

    public bool IsLive(ConsistencyGroup group) => _groups.GetValueOrDefault(group.JournalName) == group;

    /// <summary>Ids of the group's volumes now.</summary>
    public IReadOnlyList<string> MemberIds(ConsistencyGroup group)
    {
        lock (_lock)
        {
            return Require(group).Members.Select(v => v.Id).ToArray();
        }
    }

    /// <summary>Volume ids by number, each looked up when its number first appears (so a volume
    /// created after a reader opened is named too); null for a volume that no longer exists.</summary>
    public Func<uint, string?> VolumeIdLookup()
    {
        var known = new Dictionary<uint, string?>();
        return number =>
        {
            if (!known.TryGetValue(number, out var volumeId))
            {
                volumeId = known[number] = _volumes.Values.FirstOrDefault(v => v.Number == number)?.Id;
            }
            return volumeId;
        };
    }

    /// <summary>Free bytes the journals have set aside (see GroupJournal.Space.cs).</summary>
    public long JournalReservation => _groups.Values.Sum(g => g.Journal.ReservedBytes);

    /// <summary>
    /// The checkpoint's cut: every group paused for a moment to read the sequence its data files
    /// reflect (<see cref="WriteOverlay.AppliedThrough"/>), and the chunk
    /// maps changed since the last cut copied (their marks cleared), with the layers whose data
    /// changed; null once closed. Under this lock, so no structural change is half done in it.
    /// </summary>
    public CheckpointCut? TakeCut()
    {
        lock (_lock)
        {
            if (_closed)
            {
                return null;
            }
            // A checkpoint passes records for good: the catalog on disk must already place them
            // (a failed save may have left it naming tops the volumes no longer write).
            if (_saveOwed)
            {
                Save();
            }
            var groups = new List<CheckpointCut.Point>();
            var maps = new List<(Layer, byte[])>();
            var data = new List<Layer>();
            using var pause = new GroupPause(_groups.Values, drain: false);
            foreach (var group in _groups.Values)
            {
                // Updates still in the overlay are not in the data files: the cut stops before them.
                var applied = group.Overlay.AppliedThrough(group.Journal.LastSequence);
                groups.Add(new CheckpointCut.Point(group, applied, group.Journal.AppendedBytes, group.Replica));
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
            return new CheckpointCut(groups, maps, data, (long)pause.Elapsed.TotalMicroseconds);
        }
    }

    /// <summary>Layers whose data changed since the last checkpoint's cut.</summary>
    public List<Layer> DirtyLayers()
    {
        lock (_lock)
        {
            return _layers.Values.Where(l => l.DataDirty).ToList();
        }
    }

    /// <summary>Writes the structure as it is now, once the journals hold every sequence it
    /// names durably (the invariant above), then deletes the files it no longer names (also
    /// those a failed save left waiting).</summary>
    /// <exception cref="InsufficientSpaceException">No space to write it; the file on disk is the
    /// previous one, and the save is owed (the next one, or the next checkpoint, makes it).</exception>
    public void Save()
    {
        lock (_lock)
        {
            _saveOwed = true;
            Write();
            _saveOwed = false;
            var deletions = _afterSave.ToArray(); // each runs once, also when one fails
            _afterSave.Clear();
            Array.ForEach(deletions, delete => delete());
        }
    }

    /// <summary><see cref="Save"/>, with <paramref name="deleteFiles"/> (of what the structure no
    /// longer names) run once a save has succeeded: right after this one, or after the one that
    /// makes good a failed one. Caller holds this lock.</summary>
    private void Save(Action deleteFiles)
    {
        _afterSave.Add(deleteFiles);
        Save();
    }

    /// <summary>Saves a change just made here; should the save fail, <paramref name="undo"/> takes
    /// back what callers could see of it first (under this lock and any pause the caller holds),
    /// and the save stays owed: it records whatever the undo could not take back (a failed
    /// snapshot's hidden layers), else it is harmless. Caller holds this lock.</summary>
    /// <exception cref="InsufficientSpaceException">No space to write it.</exception>
    private void SaveOrUndo(Action undo)
    {
        try
        {
            Save();
        }
        catch
        {
            undo();
            throw;
        }
    }

    /// <summary>Settles a save a failed change left owed (its caller retrying, say); nothing when none is.</summary>
    private void SaveIfOwed()
    {
        if (_saveOwed)
        {
            Save();
        }
    }

    /// <summary>Writes the catalog file. Caller holds this lock.</summary>
    private void Write()
    {
        SyncNamedSequences();
        var document = new CatalogDocument
        {
            NextLayerId = _nextLayerId,
            NextVolumeNumber = _nextVolumeNumber,
            Groups = _groups.Values.Where(g => g.Name != null).Select(g => g.Name!).Order(StringComparer.Ordinal).ToList(),
            Volumes = _volumes.Values
                .Select(v => new VolumeEntry(v.Id, v.Number, v.ConsistencyGroup, v.Size, v.IsReadOnly, v.Top.Id, v.JoinedSequence))
                .ToList(),
            Layers = _layers.Values
                .Select(l => new LayerEntry(l.Id, l.Parent?.Id ?? 0, l.Journal, l.StartSequence, l.SizeBytes))
                .ToList(),
            Snapshots = _snapshots.Values
                .Select(s => new SnapshotEntry(s.Id, s.VolumeId, s.Layer.Id, s.SizeBytes, s.CreatedAt, s.Sequence, s.ConsistencyGroup, s.Purpose))
                .ToList(),
        };
        MetadataFile.Write(_path, CatalogDocument.FileMagic, document.Serialize(), CatalogDocument.Version, document.MinCompatibleVersion);
    }

    /// <summary>Makes each group's journal durable through the sequences the catalog names for
    /// it: the record before each member's top layer starts (a snapshot's record, a move's
    /// barrier) and each member's joining point. Usually they are durable already (one read);
    /// otherwise one sync, on this thread, which is allowed under a pause (see GroupCommit).
    /// Bounded by the journal's end: a catalog written before this rule may name more.</summary>
    private void SyncNamedSequences()
    {
        foreach (var group in _groups.Values)
        {
            var named = group.Members.Select(v => Math.Max(v.JoinedSequence, v.Top.StartSequence - 1)).DefaultIfEmpty(0).Max();
            group.Commit.WaitDurable(Math.Min(named, group.Journal.LastSequence));
        }
    }

    /// <summary>Closes every journal and layer file; a checkpoint after this finds nothing to cut.</summary>
    public void Close()
    {
        lock (_lock)
        {
            _closed = true;
            foreach (var group in _groups.Values)
            {
                group.Journal.Dispose();
            }
            foreach (var layer in _layers.Values)
            {
                layer.Handle.Dispose();
            }
        }
    }

    /// <summary>A new empty layer over <paramref name="parent"/>. Caller holds this lock and saves.</summary>
    /// <exception cref="InsufficientSpaceException">No space for its files.</exception>
    private Layer NewLayer(Layer? parent, long sizeBytes)
    {
        Layer layer;
        try
        {
            layer = new Layer(_nextLayerId++, _layerDirectory, new ChunkMap(ChunksFor(sizeBytes))) { Parent = parent, SizeBytes = sizeBytes };
        }
        catch (IOException e) when (Native.IsDiskFull(e))
        {
            throw new InsufficientSpaceException("no space for a new layer's files", e);
        }
        if (parent != null)
        {
            parent.Children++;
        }
        _layers[layer.Id] = layer;
        return layer;
    }

    /// <summary>A new empty layer for each of <paramref name="owners"/>, over the layer
    /// <paramref name="parent"/> names, all or none: should one fail (its files cannot be
    /// created), those made before it are discarded with their files, since no catalog will
    /// name them. Caller holds this lock and saves.</summary>
    private List<(T Owner, Layer Layer)> NewLayers<T>(IEnumerable<T> owners, Func<T, Layer?> parent, Func<T, long> sizeBytes)
    {
        var made = new List<(T Owner, Layer Layer)>();
        try
        {
            foreach (var owner in owners)
            {
                made.Add((owner, NewLayer(parent(owner), sizeBytes(owner))));
            }
        }
        catch
        {
            made.ForEach(m => Discard(m.Layer));
            throw;
        }
        return made;
    }

    /// <summary>Forgets <paramref name="layer"/> if nothing refers to it any more, and so on up
    /// its chain; returns the layers forgotten (their files go once the catalog is saved).</summary>
    private List<Layer> Unlink(Layer layer)
    {
        var dropped = new List<Layer>();
        for (var current = layer; current is { IsUnreferenced: true }; current = current.Parent)
        {
            _layers.Remove(current.Id);
            dropped.Add(current);
            if (current.Parent != null)
            {
                current.Parent.Children--;
            }
        }
        return dropped;
    }

    /// <summary>Makes <paramref name="top"/> the volume's top layer: its records from the next
    /// sequence of <paramref name="group"/> on land there. Caller holds the group's gate.</summary>
    private static void StartTop(Volume volume, Layer top, ConsistencyGroup group)
    {
        top.Owner = volume;
        top.Journal = group.JournalName;
        top.StartSequence = group.Journal.LastSequence + 1;
        top.SizeBytes = volume.Size;
        volume.Top = top;
    }

    private Layer LayerById(long id) =>
        _layers.GetValueOrDefault(id) ?? throw new CorruptionException($"{_path}: layer {id} is referenced but not listed");

    internal static long ChunksFor(long sizeBytes) => (sizeBytes + ChunkRange.ChunkSize - 1) / ChunkRange.ChunkSize;
}

/// <summary>What a checkpoint covers, read at one instant (see <see cref="Catalog.TakeCut"/>).</summary>
internal sealed record CheckpointCut(
    IReadOnlyList<CheckpointCut.Point> Groups,
    IReadOnlyList<(Layer Layer, byte[] Bits)> Maps,
    IReadOnlyList<Layer> Data,
    long PauseMicros)
{
    /// <param name="Appended">The journal's <see cref="GroupJournal.AppendedBytes"/> at the cut.</param>
    internal sealed record Point(ConsistencyGroup Group, long Sequence, long Appended, ReplicaState? Replica);
}
