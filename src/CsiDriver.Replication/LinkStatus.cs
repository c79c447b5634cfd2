using System.Diagnostics;

namespace CsiDriver.Replication;

/// <summary>
/// What one link (a replication's stream; one per volume in per-volume mode) last reported:
/// written by its shipper (at the primary) or its receiving stream (at the backup) through the
/// methods below, and read as one <see cref="LinkSnapshot"/> taken under the same lock, so a
/// reader never mixes fields from different moments. The writers call it per message at most,
/// never per record.
/// </summary>
public sealed class LinkStatus
{
    private readonly Lock _lock = new();
    private readonly ThroughputMeter _shipped = new();
    private readonly ThroughputMeter _applied = new();
    private bool _connected;
    private DateTimeOffset? _disconnectedSince = DateTimeOffset.UtcNow;
    private LinkFailure? _failure;
    private long _lastHeardTimestamp = Stopwatch.GetTimestamp();
    private long _heard;
    private long _appliedSequence;
    private long _appliedSourceMicros;
    private long _sourceLastSequence;
    private TimeSpan? _lastSyncDuration;
    private long _lastSyncBytes;
    private bool _resyncing;
    private ResyncProgress _resync = new(true, 0, 0, 0, 0);
    private long _lastResyncChunks;
    private long _backlogPlannedThrough;

    /// <summary>The stream is open: the other end answered. Clears the last failure.</summary>
    public void Connected()
    {
        lock (_lock)
        {
            _lastHeardTimestamp = Stopwatch.GetTimestamp();
            _connected = true;
            _disconnectedSince = null;
            _failure = null;
        }
    }

    /// <summary>The stream ended; <paramref name="failure"/> says why, when it failed (a stop
    /// keeps the failure seen before it).</summary>
    public void Disconnected(LinkFailure? failure = null)
    {
        lock (_lock)
        {
            _connected = false;
            _disconnectedSince ??= DateTimeOffset.UtcNow;
            _failure = failure ?? _failure;
        }
    }

    /// <summary>A message arrived from the other end (an ack, or a shipper's message).</summary>
    public void Heard()
    {
        Interlocked.Exchange(ref _lastHeardTimestamp, Stopwatch.GetTimestamp());
        Interlocked.Increment(ref _heard);
    }

    /// <summary>Messages heard from the other end since this link's status began.</summary>
    public long MessagesHeard => Interlocked.Read(ref _heard);

    /// <summary>The backup has durably applied the source up to <paramref name="sequence"/>
    /// (main-site time <paramref name="sourceMicros"/>, unix µs).</summary>
    public void Applied(long sequence, long sourceMicros)
    {
        lock (_lock)
        {
            _appliedSequence = sequence;
            _appliedSourceMicros = sourceMicros;
            _sourceLastSequence = Math.Max(_sourceLastSequence, sequence);
        }
    }

    /// <summary>The newest sequence the main site has, as this side last heard it.</summary>
    public void SourceAt(long sequence)
    {
        lock (_lock)
        {
            _sourceLastSequence = sequence;
        }
    }

    /// <summary>A batch went from sent (or received) to durably applied in <paramref name="duration"/>.</summary>
    public void Synced(TimeSpan duration, long bytes)
    {
        lock (_lock)
        {
            _lastSyncDuration = duration;
            _lastSyncBytes = bytes;
        }
    }

    /// <summary>The catch-up's plan (<see cref="BacklogPlan"/>) covers the backlog through
    /// <paramref name="sequence"/> (0: it covers nothing).</summary>
    public void Planned(long sequence)
    {
        lock (_lock)
        {
            _backlogPlannedThrough = sequence;
        }
    }

    public void CountShipped(long bytes) => _shipped.Add(bytes);

    public void CountApplied(long bytes) => _applied.Add(bytes);

    public void BeginResync(long chunksTotal, long bytesTotal)
    {
        lock (_lock)
        {
            _resyncing = true;
            _resync = new ResyncProgress(false, 0, chunksTotal, 0, bytesTotal);
        }
    }

    /// <summary>Adds to the running resync; returns its progress now.</summary>
    public ResyncProgress AddResyncProgress(long chunks, long bytes)
    {
        lock (_lock)
        {
            _resync = _resync with { ChunksDone = _resync.ChunksDone + chunks, BytesDone = _resync.BytesDone + bytes };
            return _resync;
        }
    }

    /// <summary>The resync is complete; returns the chunks it moved.</summary>
    public long CompleteResync()
    {
        lock (_lock)
        {
            _resync = _resync with { Ready = true };
            _resyncing = false;
            _lastResyncChunks = _resync.ChunksDone;
            return _lastResyncChunks;
        }
    }

    public LinkSnapshot Snapshot()
    {
        lock (_lock)
        {
            return new LinkSnapshot(
                _connected, _disconnectedSince, _failure, Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastHeardTimestamp)),
                _appliedSequence, _appliedSourceMicros, _sourceLastSequence, _lastSyncDuration, _lastSyncBytes,
                _shipped.BytesPerSecond, _applied.BytesPerSecond, _resyncing, _resync, _lastResyncChunks, _backlogPlannedThrough);
        }
    }
}

/// <summary>One link's status at one moment (see <see cref="LinkStatus"/>).</summary>
/// <param name="SinceHeard">Time since the last message from the other end.</param>
/// <param name="AppliedSequence">Source sequence durably applied at the backup; <paramref name="AppliedSourceMicros"/> its main-site time.</param>
/// <param name="SourceLastSequence">Newest source sequence the main site has, as this side last heard.</param>
/// <param name="LastSyncDuration">Send (or receive) to durable apply of the newest batch.</param>
/// <param name="BacklogPlannedThrough">At the primary: the newest record the catch-up's plan covers (0: none).</param>
public sealed record LinkSnapshot(
    bool Connected,
    DateTimeOffset? DisconnectedSince,
    LinkFailure? Failure,
    TimeSpan SinceHeard,
    long AppliedSequence,
    long AppliedSourceMicros,
    long SourceLastSequence,
    TimeSpan? LastSyncDuration,
    long LastSyncBytes,
    double ShipBytesPerSecond,
    double ApplyBytesPerSecond,
    bool Resyncing,
    ResyncProgress Resync,
    long LastResyncChunks,
    long BacklogPlannedThrough)
{
    /// <summary>Connected and heard from within <paramref name="silence"/>.</summary>
    public bool IsLive(TimeSpan silence) => Connected && SinceHeard < silence;
}

/// <summary>Why a link went down, as its shipper saw it. <paramref name="Refused"/>: the peer
/// answered and will not take the stream (it is primary, was demoted, speaks another protocol
/// version, or found a gap): an error to act on, not a path to wait for.</summary>
public sealed record LinkFailure(string Reason, bool Refused)
{
    public override string ToString() => Reason;
}
