using System.Collections.Concurrent;

namespace CsiDriver.Engine;

/// <summary>
/// The engine's entry point: owns every volume under one data directory.
/// This first version keeps each volume as a sparse file of its capacity
/// (<c>volumes/&lt;id&gt;.vol</c>); the journaling engine replaces the internals behind
/// the same surface.
/// </summary>
public sealed class StorageEngine : IDisposable
{
    private readonly ConcurrentDictionary<string, Volume> _volumes = new(StringComparer.Ordinal);
    private readonly string _volumeDirectory;

    private StorageEngine(string dataDirectory)
    {
        DataDirectory = dataDirectory;
        _volumeDirectory = Path.Combine(dataDirectory, "volumes");
    }

    public string DataDirectory { get; }

    public IReadOnlyCollection<Volume> Volumes => _volumes.Values.ToArray();

    /// <summary>Free bytes of the file system that holds the data directory.</summary>
    public long AvailableBytes => new DriveInfo(DataDirectory).AvailableFreeSpace;

    /// <summary>Opens (creating if needed) the engine's state under <paramref name="dataDirectory"/>.</summary>
    public static StorageEngine Open(string dataDirectory)
    {
        var engine = new StorageEngine(Path.GetFullPath(dataDirectory));
        Directory.CreateDirectory(engine._volumeDirectory);
        foreach (var file in Directory.EnumerateFiles(engine._volumeDirectory, "*.vol"))
        {
            var id = Path.GetFileNameWithoutExtension(file);
            engine._volumes[id] = new Volume(id, file);
        }
        return engine;
    }

    public Volume? FindVolume(string volumeId) => _volumes.GetValueOrDefault(volumeId);

    public Volume GetVolume(string volumeId) => FindVolume(volumeId) ?? throw new VolumeNotFoundException(volumeId);

    public Volume CreateVolume(string volumeId, long capacityBytes)
    {
        VolumeIds.Validate(volumeId);
        if (capacityBytes <= 0 || capacityBytes % VolumeIds.BlockSize != 0)
        {
            throw new OutOfRangeException($"capacity {capacityBytes} must be a positive multiple of {VolumeIds.BlockSize}");
        }
        var path = Path.Combine(_volumeDirectory, volumeId + ".vol");
        lock (_volumes)
        {
            if (_volumes.ContainsKey(volumeId))
            {
                throw new VolumeExistsException(volumeId);
            }
            using (var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite))
            {
                RandomAccess.SetLength(handle, capacityBytes);
            }
            var volume = new Volume(volumeId, path);
            _volumes[volumeId] = volume;
            return volume;
        }
    }

    /// <summary>Deletes the volume; returns false when it did not exist (deleting what is gone succeeds).</summary>
    public bool DeleteVolume(string volumeId)
    {
        lock (_volumes)
        {
            if (!_volumes.TryRemove(volumeId, out var volume))
            {
                return false;
            }
            volume.Dispose();
            File.Delete(volume.Path);
            return true;
        }
    }

    /// <summary>Grows the volume to <paramref name="newCapacityBytes"/>; never shrinks.</summary>
    public void ExpandVolume(string volumeId, long newCapacityBytes)
    {
        var volume = GetVolume(volumeId);
        if (newCapacityBytes % VolumeIds.BlockSize != 0)
        {
            throw new OutOfRangeException($"capacity {newCapacityBytes} must be a multiple of {VolumeIds.BlockSize}");
        }
        if (newCapacityBytes < volume.Size)
        {
            throw new OutOfRangeException($"volume '{volumeId}' is {volume.Size} bytes; shrinking to {newCapacityBytes} is not supported");
        }
        volume.Grow(newCapacityBytes);
    }

    public void Dispose()
    {
        foreach (var volume in _volumes.Values)
        {
            volume.Dispose();
        }
    }
}
