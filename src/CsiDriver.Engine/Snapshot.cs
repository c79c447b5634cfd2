using CsiDriver.Engine.Layers;

namespace CsiDriver.Engine;

/// <summary>Why a snapshot exists, which says who owns it: a front end deletes only what it
/// was asked to take, and start-up decides what is a leftover by it, never by a name.</summary>
public enum SnapshotPurpose
{
    /// <summary>Taken on request (a CSI snapshot, a member of a group snapshot): the front end's
    /// record of it owns it; one without a record is what an interrupted create left behind.</summary>
    User = 0,

    /// <summary>The engine's: a replica group's last consistent image while a resync runs
    /// (ReplicaApplier.Resync.cs); the engine removes it when the resync ends.</summary>
    ResyncProtection = 1,

    /// <summary>Replication's source image for one resync session: nothing outlives the session,
    /// so one found at start-up is garbage.</summary>
    ResyncSource = 2,

    /// <summary>Replication's kept image (the image at a promotion, a demoted primary's image
    /// during its failback): its replication record names it.</summary>
    ReplicationImage = 3,
}

/// <summary>A read-only point-in-time image of a volume: the volume's frozen top layer at a cut.</summary>
public sealed class Snapshot
{
    internal Snapshot(string id, string volumeId, long sizeBytes, DateTimeOffset createdAt, long sequence, string? consistencyGroup, SnapshotPurpose purpose, Layer layer)
    {
        Purpose = purpose;
        Id = id;
        VolumeId = volumeId;
        SizeBytes = sizeBytes;
        CreatedAt = createdAt;
        Sequence = sequence;
        ConsistencyGroup = consistencyGroup;
        Layer = layer;
    }

    public string Id { get; }

    /// <summary>The volume it was taken of; that volume may since have been deleted.</summary>
    public string VolumeId { get; }

    public long SizeBytes { get; }

    public DateTimeOffset CreatedAt { get; }

    /// <summary>Sequence of the snapshot's cut record in its group's journal: every record of
    /// the group with a smaller sequence is in the snapshot, none with a larger one.</summary>
    public long Sequence { get; }

    /// <summary>The named group of the volume at the cut, or null for a group of one.</summary>
    public string? ConsistencyGroup { get; }

    public SnapshotPurpose Purpose { get; }

    internal Layer Layer { get; }
}

/// <summary>A read-only block device over a snapshot's frozen layers.</summary>
internal sealed class SnapshotDevice(Snapshot snapshot, Catalog catalog) : IBlockDevice
{
    public string Name => snapshot.Id;

    public long Size => snapshot.SizeBytes;

    public bool IsReadOnly => true;

    public ValueTask ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (offset < 0 || offset + buffer.Length > Size)
        {
            throw new OutOfRangeException($"range [{offset}, {offset + buffer.Length}) is outside snapshot '{Name}' of {Size} bytes");
        }
        if (catalog.FindSnapshot(snapshot.Id) != snapshot)
        {
            throw new SnapshotNotFoundException(snapshot.Id);
        }
        LayerChain.Read(snapshot.Layer, offset, buffer.Span);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, bool fua, CancellationToken cancellationToken = default) =>
        throw new ReadOnlyVolumeException(Name);

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default) =>
        throw new ReadOnlyVolumeException(Name);

    public ValueTask WriteZeroesAsync(long offset, long length, bool fua, CancellationToken cancellationToken = default) =>
        throw new ReadOnlyVolumeException(Name);
}
