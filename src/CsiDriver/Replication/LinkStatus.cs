namespace CsiDriver.Replication;

/// <summary>
/// What one link (a replication's stream; one per volume in per-volume mode) last reported,
/// written by its shipper or receiver, read by GetInfo and the metrics. Each field is a
/// snapshot value; readers may see fields from neighbouring moments.
/// </summary>
public sealed class LinkStatus
{
    private readonly Lock _lock = new();
    private ResyncProgress _resync = new(true, 0, 0, 0, 0);

    public volatile bool Connected;
    public volatile bool Resyncing;

    /// <summary>Source sequence durably applied at the backup (and its main-site time, unix µs).</summary>
    public long AppliedSequence;
    public long AppliedSourceMicros;

    /// <summary>Newest source sequence the main site has (as this side last heard it).</summary>
    public long SourceLastSequence;

    /// <summary>Stopwatch timestamp of the last message from the other end (ack or shipper message).</summary>
    public long LastHeardTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();

    public long LastSyncTicks;
    public long LastSyncBytes;
    public long LastResyncChunks;
    public string? LastError;
    public DateTimeOffset? DisconnectedSince = DateTimeOffset.UtcNow;

    public ThroughputMeter Shipped { get; } = new();

    public ThroughputMeter Applied { get; } = new();

    public ResyncProgress Resync
    {
        get
        {
            lock (_lock)
            {
                return _resync;
            }
        }
    }

    public void SetApplied(long sequence, long sourceMicros)
    {
        Interlocked.Exchange(ref AppliedSequence, sequence);
        Interlocked.Exchange(ref AppliedSourceMicros, sourceMicros);
        if (sequence > Interlocked.Read(ref SourceLastSequence))
        {
            Interlocked.Exchange(ref SourceLastSequence, sequence);
        }
    }

    public void Heard() => Interlocked.Exchange(ref LastHeardTimestamp, System.Diagnostics.Stopwatch.GetTimestamp());

    /// <summary>Connected and heard from within <paramref name="silence"/>.</summary>
    public bool IsLive(TimeSpan silence) =>
        Connected && System.Diagnostics.Stopwatch.GetElapsedTime(Interlocked.Read(ref LastHeardTimestamp)) < silence;

    public void SetConnected(bool connected, string? error = null)
    {
        Heard();
        Connected = connected;
        DisconnectedSince = connected ? null : DisconnectedSince ?? DateTimeOffset.UtcNow;
        if (connected || error is not null)
        {
            LastError = error;
        }
    }

    public void BeginResync(long chunksTotal, long bytesTotal)
    {
        Resyncing = true;
        lock (_lock)
        {
            _resync = new ResyncProgress(false, 0, chunksTotal, 0, bytesTotal);
        }
    }

    public void AddResyncProgress(long chunks, long bytes)
    {
        lock (_lock)
        {
            _resync = _resync with { ChunksDone = _resync.ChunksDone + chunks, BytesDone = _resync.BytesDone + bytes };
        }
    }

    public void CompleteResync()
    {
        lock (_lock)
        {
            _resync = _resync with { Ready = true };
            LastResyncChunks = _resync.ChunksDone;
        }
        Resyncing = false;
    }
}
