using Microsoft.Extensions.Logging;

namespace CsiDriver.Engine.Nbd;

/// <summary>How an <see cref="NbdServer"/> listens, what it serves and the limits it enforces.</summary>
public sealed class NbdServerOptions
{
    public required IReadOnlyList<NbdEndpoint> Endpoints { get; init; }

    public required INbdExportCatalog Exports { get; init; }

    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Largest READ or WRITE accepted; advertised as the maximum block size. A WRITE
    /// announcing more closes the connection (its data cannot be skipped safely).</summary>
    public int MaxPayloadBytes { get; init; } = 32 * 1024 * 1024;

    /// <summary>Alignment every request's offset and length must have (a power of two up to 64 KiB).
    /// 1 because <see cref="IBlockDevice"/> takes byte ranges.</summary>
    public int MinimumBlockSize { get; init; } = 1;

    /// <summary>Size below which clients should read-modify-write (advertised, not enforced).</summary>
    public int PreferredBlockSize { get; init; } = VolumeIds.BlockSize;

    /// <summary>Requests of one connection being handled at once; the connection stops reading past it.</summary>
    public int MaxRequestsInFlight { get; init; } = 64;

    /// <summary>Payload bytes (write data, read buffers) one connection may hold at once; a single
    /// request larger than this still runs, alone.</summary>
    public long MaxBytesInFlight { get; init; } = 64L * 1024 * 1024;

    /// <summary>Connections at once on <see cref="Endpoints"/>; one past it is closed at accept.</summary>
    public int MaxConnections { get; init; } = 256;

    /// <summary>A connection on <see cref="Endpoints"/> that has entered transmission, has no
    /// request in flight and sends none for this long is closed, so idle clients cannot hold
    /// every place. <see cref="Timeout.InfiniteTimeSpan"/>: never.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Threads, shared by all connections, on which requests that may block in the device
    /// run (FLUSH, FUA, a device seen blocking); started on demand.</summary>
    public int MaxBlockingThreads { get; init; } = 64;

    /// <summary>A client that has not entered transmission by then is disconnected.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    internal void Validate()
    {
        if (IdleTimeout <= TimeSpan.Zero && IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentException($"idle timeout {IdleTimeout} must be positive or infinite");
        }
        if (Endpoints.Count == 0)
        {
            throw new ArgumentException("an NBD server needs at least one endpoint");
        }
        if (!IsPowerOfTwo(MinimumBlockSize) || MinimumBlockSize > NbdProtocol.MaxMinimumBlockSize)
        {
            throw new ArgumentException($"minimum block size {MinimumBlockSize} must be a power of two of at most 64 KiB");
        }
        if (!IsPowerOfTwo(PreferredBlockSize) || PreferredBlockSize < MinimumBlockSize)
        {
            throw new ArgumentException($"preferred block size {PreferredBlockSize} must be a power of two of at least {MinimumBlockSize}");
        }
        if (MaxPayloadBytes < PreferredBlockSize || MaxPayloadBytes % MinimumBlockSize != 0)
        {
            throw new ArgumentException($"maximum payload {MaxPayloadBytes} must be a multiple of {MinimumBlockSize} and at least {PreferredBlockSize}");
        }
        if (MaxRequestsInFlight < 1 || MaxBytesInFlight < 1 || MaxConnections < 1 || MaxBlockingThreads < 1)
        {
            throw new ArgumentException("in-flight and connection limits must be positive");
        }
    }

    private static bool IsPowerOfTwo(int value) => value > 0 && (value & (value - 1)) == 0;
}
