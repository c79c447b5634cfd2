using System.Collections.Concurrent;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Layers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CsiDriver.Engine;

/// <summary>
/// The engine's entry point: owns every volume, snapshot and consistency-group journal under
/// one data directory:
/// <code>
/// catalog                  structure (volumes, snapshots, layers, groups)
/// checkpoint               per journal: the sequence the durable data files reflect
/// layers/NNNNNNNN.data     a layer's sparse data file     layers/NNNNNNNN.map  its chunk map
/// journals/NAME/journal-NNNNNN.seg                        a group's journal segments
/// </code>
/// Structural operations (create, delete, snapshot, clone, move, checkpoint) are serialised
/// by one lock that the data path never takes; the data path takes its group's gate and its
/// volume's apply lock only (see <see cref="Volume"/>).
/// </summary>
public sealed partial class StorageEngine : IDisposable
{
    private readonly object _structure = new();
    private readonly ConcurrentDictionary<string, Volume> _volumes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Snapshot> _snapshots = new(StringComparer.Ordinal);
    private readonly Dictionary<long, Layer> _layers = [];
    private readonly Dictionary<string, ConsistencyGroup> _groups = new(StringComparer.Ordinal);
    private readonly EngineOptions _options;
    private readonly ILogger _logger;
    private readonly string _layerDirectory;
    private readonly string _journalDirectory;
    private long _nextLayerId = 1;
    private uint _nextVolumeNumber = 1;
    private bool _disposed;

    private StorageEngine(string dataDirectory, EngineOptions options)
    {
        DataDirectory = dataDirectory;
        _options = options;
        _logger = options.LoggerFactory?.CreateLogger<StorageEngine>() ?? NullLogger<StorageEngine>.Instance;
        _layerDirectory = Path.Combine(dataDirectory, "layers");
        _journalDirectory = Path.Combine(dataDirectory, "journals");
    }

    public string DataDirectory { get; }

    public IReadOnlyCollection<Volume> Volumes => _volumes.Values.ToArray();

    /// <summary>Bytes that can still be written: the free space of the file system holding the
    /// data directory, less what the journals have set aside to roll (see GroupJournal.Space.cs).</summary>
    public long AvailableBytes
    {
        get
        {
            long reserved;
            lock (_structure)
            {
                reserved = _groups.Values.Sum(g => g.Journal.ReservedBytes);
            }
            return Math.Max(0, new DriveInfo(DataDirectory).AvailableFreeSpace - reserved);
        }
    }

    /// <summary>What recovery found in each journal when the engine opened.</summary>
    public IReadOnlyList<JournalRecoveryReport> Recovery { get; private set; } = [];

    public Volume? FindVolume(string volumeId) => _volumes.GetValueOrDefault(volumeId);

    public Volume GetVolume(string volumeId) => FindVolume(volumeId) ?? throw new VolumeNotFoundException(volumeId);

    /// <summary>Creates an empty thin volume, in the named consistency group (created on first
    /// use) or, with null, in a group of its own.</summary>
    public Volume CreateVolume(string volumeId, long capacityBytes, string? consistencyGroup = null) =>
        CreateEmptyVolume(volumeId, capacityBytes, consistencyGroup, prepare: null);

    /// <summary>Creates an empty volume; <paramref name="prepare"/> finishes it under the structure
    /// lock before the one catalog write that makes it durable.</summary>
    private Volume CreateEmptyVolume(string volumeId, long capacityBytes, string? consistencyGroup, Action<Volume>? prepare)
    {
        VolumeIds.Validate(volumeId);
        ValidateGroupName(consistencyGroup);
        CheckCapacity(capacityBytes);
        lock (_structure)
        {
            CheckVolumeAbsent(volumeId);
            var volume = AddVolume(volumeId, capacityBytes, consistencyGroup, parent: null);
            prepare?.Invoke(volume);
            SaveCatalog();
            return volume;
        }
    }

    /// <summary>Deletes the volume; returns false when it did not exist (deleting what is gone
    /// succeeds). Its snapshots stay readable: they hold their own frozen layers, and layers
    /// the volume shared with them are released only once nothing refers to them.</summary>
    public bool DeleteVolume(string volumeId)
    {
        lock (_checkpointLock)
        lock (_structure)
        {
            if (!_volumes.TryGetValue(volumeId, out var volume))
            {
                return false;
            }
            var group = volume.Group;
            using (new GroupPause([group]))
            {
                volume.MarkDeleted();
                group.Members.Remove(volume);
            }
            // Once the volume is gone its journal records are no longer replayed, so the layers
            // it leaves to its snapshots and clones must be durable now.
            CheckpointHeld();
            _volumes.TryRemove(volumeId, out _);
            var top = volume.Top;
            top.Owner = null;
            var dropped = Unlink(top);
            if (group.Name == null)
            {
                _groups.Remove(group.JournalName);
            }
            SaveCatalog();
            dropped.ForEach(layer => layer.DeleteFiles());
            if (group.Name == null)
            {
                group.Journal.Delete();
            }
            CompactHidden();
            return true;
        }
    }

    /// <summary>Grows the volume to <paramref name="newCapacityBytes"/>; never shrinks.</summary>
    public void ExpandVolume(string volumeId, long newCapacityBytes)
    {
        CheckCapacity(newCapacityBytes);
        lock (_structure)
        {
            var volume = GetVolume(volumeId);
            if (newCapacityBytes < volume.Size)
            {
                throw new OutOfRangeException($"volume '{volumeId}' is {volume.Size} bytes; shrinking to {newCapacityBytes} is not supported");
            }
            // The catalog is saved inside the pause: no write past the old end may reach the
            // journal before the new size is durable.
            using var pause = new GroupPause([volume.Group]);
            volume.Top.Map.Grow(ChunksFor(newCapacityBytes));
            volume.Top.SizeBytes = newCapacityBytes;
            volume.SetSize(newCapacityBytes);
            var journal = volume.Group.Journal;
            journal.Append(JournalRecordKind.Resize, volume.Number, 0, newCapacityBytes, ReadOnlyMemory<byte>.Empty, journal.NowMicros());
            SaveCatalog();
        }
    }

    /// <summary>Makes the volume refuse (or accept again) writes: replicas at the backup site
    /// are read-only to everyone but the applier.</summary>
    public void SetVolumeReadOnly(string volumeId, bool readOnly)
    {
        lock (_structure)
        {
            var volume = GetVolume(volumeId);
            using var pause = new GroupPause([volume.Group]);
            volume.SetReadOnly(readOnly);
            SaveCatalog();
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        StopCheckpointer();
        try
        {
            Checkpoint();
        }
        catch (InsufficientSpaceException e)
        {
            // Closing without one is what a crash does, and the journals hold everything.
            EngineLog.CheckpointDeferred(_logger, e.Message);
        }
        Close();
    }

    /// <summary>Closes every file without a final checkpoint, as a crash would leave things
    /// (the page cache survives a process crash, so this is what SIGKILL leaves behind).</summary>
    internal void CloseWithoutCheckpoint()
    {
        StopCheckpointer();
        Close();
    }

    private void Close()
    {
        lock (_structure)
        {
            _disposed = true;
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

    /// <summary>Creates the volume with a fresh top layer over <paramref name="parent"/>. Caller
    /// holds the structure lock and saves the catalog.</summary>
    private Volume AddVolume(string volumeId, long capacityBytes, string? consistencyGroup, Layer? parent)
    {
        var number = _nextVolumeNumber++;
        var group = consistencyGroup == null
            ? OpenGroup(ConsistencyGroup.SoloJournalName(number), null)
            : _groups.GetValueOrDefault(consistencyGroup) ?? OpenGroup(consistencyGroup, consistencyGroup);
        var top = NewLayer(parent, capacityBytes);
        var volume = new Volume(volumeId, number, capacityBytes, readOnly: false, group, top);
        lock (group.Gate)
        {
            StartTop(volume, top, group);
            volume.JoinedSequence = group.Journal.LastSequence;
            group.Members.Add(volume);
        }
        _volumes[volumeId] = volume;
        return volume;
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

    internal static long ChunksFor(long sizeBytes) => (sizeBytes + ChunkRange.ChunkSize - 1) / ChunkRange.ChunkSize;

    private static void CheckCapacity(long capacityBytes)
    {
        if (capacityBytes <= 0 || capacityBytes % VolumeIds.BlockSize != 0)
        {
            throw new OutOfRangeException($"capacity {capacityBytes} must be a positive multiple of {VolumeIds.BlockSize}");
        }
    }

    private static void ValidateGroupName(string? consistencyGroup)
    {
        if (consistencyGroup != null && !VolumeIds.IsValid(consistencyGroup))
        {
            throw new ArgumentException($"consistency group '{consistencyGroup}' must follow the volume id rules", nameof(consistencyGroup));
        }
    }

    private void CheckVolumeAbsent(string volumeId)
    {
        if (_volumes.ContainsKey(volumeId))
        {
            throw new VolumeExistsException(volumeId);
        }
    }
}
