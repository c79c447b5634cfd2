namespace CsiDriver.Engine;

/// <summary>Base of every failure the engine reports on purpose. Front ends map these to
/// their own vocabulary (gRPC status codes, NBD errors) in one place each.</summary>
public abstract class EngineException(string message, Exception? inner = null) : Exception(message, inner);

public sealed class VolumeNotFoundException(string volumeId)
    : EngineException($"volume '{volumeId}' does not exist")
{
    public string VolumeId { get; } = volumeId;
}

public sealed class VolumeExistsException(string volumeId)
    : EngineException($"volume '{volumeId}' already exists")
{
    public string VolumeId { get; } = volumeId;
}

public sealed class ReadOnlyVolumeException(string volumeId, string? reason = null)
    : EngineException(reason is null ? $"volume '{volumeId}' is read-only" : $"volume '{volumeId}' is read-only: {reason}")
{
    public string VolumeId { get; } = volumeId;
}

/// <summary>An offset, length or size outside what the volume or the engine allows.</summary>
public sealed class OutOfRangeException(string message) : EngineException(message);

/// <summary>The file system holding the data directory is full: nothing was changed. Space
/// freed (a volume or snapshot deleted, the disk grown) lets the same call succeed.</summary>
public sealed class InsufficientSpaceException(string message, Exception? inner = null) : EngineException(message, inner);

/// <summary>On-disk data failed a check (checksum, magic, version); the message names the file.</summary>
public sealed class CorruptionException(string message, Exception? inner = null) : EngineException(message, inner);

public sealed class SnapshotNotFoundException(string snapshotId)
    : EngineException($"snapshot '{snapshotId}' does not exist")
{
    public string SnapshotId { get; } = snapshotId;
}

public sealed class SnapshotExistsException(string snapshotId)
    : EngineException($"snapshot '{snapshotId}' already exists")
{
    public string SnapshotId { get; } = snapshotId;
}
