namespace CsiDriver.Engine;

/// <summary>
/// A block-addressed device as the engine exposes it to its front ends (the NBD server,
/// node-side tools, replication). Offsets and lengths are in bytes; callers check ranges
/// against <see cref="Size"/>, the device checks them again and throws
/// <see cref="OutOfRangeException"/>.
/// </summary>
public interface IBlockDevice
{
    string Name { get; }

    long Size { get; }

    bool IsReadOnly { get; }

    ValueTask ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default);

    /// <summary>Completes once the write is in its group's journal; with <paramref name="fua"/>
    /// only once the journal is durable.</summary>
    ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, bool fua, CancellationToken cancellationToken = default);

    /// <summary>Completes once every write acknowledged before it is durable.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>Discards the range: it reads as zeroes afterwards and its space is released.</summary>
    ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default);

    ValueTask WriteZeroesAsync(long offset, long length, bool fua, CancellationToken cancellationToken = default);
}
