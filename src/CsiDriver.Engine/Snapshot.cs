using CsiDriver.Engine.Layers;

namespace CsiDriver.Engine;

/// <summary>A read-only point-in-time image of a volume: the volume's frozen top layer at a cut.</summary>
public sealed class Snapshot
{
    internal Snapshot(string id, string volumeId, long sizeBytes, DateTimeOffset createdAt, long sequence, string? consistencyGroup, Layer layer)
    {
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
