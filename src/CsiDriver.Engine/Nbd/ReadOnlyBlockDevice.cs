namespace CsiDriver.Engine.Nbd;

/// <summary>
/// A view of a device that reads through and refuses every change with
/// <see cref="ReadOnlyVolumeException"/>, whatever the device itself would allow.
/// </summary>
public sealed class ReadOnlyBlockDevice(IBlockDevice inner) : IBlockDevice
{
    public string Name => inner.Name;

    public long Size => inner.Size;

    public bool IsReadOnly => true;

    public ValueTask ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(offset, buffer, cancellationToken);

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, bool fua, CancellationToken cancellationToken = default) =>
        throw new ReadOnlyVolumeException(Name);

    /// <summary>Nothing was written through this view, so there is nothing to make durable.</summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default) =>
        throw new ReadOnlyVolumeException(Name);

    public ValueTask WriteZeroesAsync(long offset, long length, bool fua, CancellationToken cancellationToken = default) =>
        throw new ReadOnlyVolumeException(Name);
}
