namespace CsiDriver.Replication;

public enum ReplicationRole
{
    Primary,
    Secondary,
}

/// <summary>Where a replication stands, as the csi-addons status and the metrics show it.</summary>
public enum ReplicationState
{
    /// <summary>Primary, connecting or reconnecting to the backup (with backoff).</summary>
    Connecting,

    /// <summary>Shipping or receiving whole chunks: initial sync, delta resync or failback resync.</summary>
    Resyncing,

    /// <summary>Shipping or receiving journal batches.</summary>
    Replicating,

    /// <summary>Secondary with no shipper connected.</summary>
    Waiting,

    /// <summary>A demoted primary: read-only, waiting for ResyncAsync before it accepts the new primary.</summary>
    Demoted,

    /// <summary>A demoted primary that asked for resync and waits for the new primary to connect.</summary>
    AwaitingResync,
}

public enum ReplicationHealth
{
    Healthy,
    Degraded,
    Error,
}

/// <summary>How far a resync has come.</summary>
/// <param name="Ready">True once the replicas are a consistent image of the primary again.</param>
public sealed record ResyncProgress(bool Ready, long ChunksDone, long ChunksTotal, long BytesDone, long BytesTotal);

/// <param name="AppliedSequence">Source sequence the backup has durably applied (as the shipper last heard, at the main).</param>
/// <param name="LastSyncTime">Main-site time of the newest applied record.</param>
/// <param name="LastSyncDuration">Send-to-durable-ack time of the newest acknowledged batch (or the last resync's duration).</param>
/// <param name="LastSyncBytes">Payload bytes of that batch (or of that resync).</param>
/// <param name="Lag">Zero when caught up; otherwise now minus LastSyncTime.</param>
/// <param name="LastResyncChunks">Chunks shipped (primary) or received (secondary) by the newest completed resync.</param>
/// <param name="BacklogPlannedThrough">At a primary, as of its last reconnect attempt: the newest record whose chunks
/// the catch-up's plan holds already, read while the link was down (0 when none; per-volume mode: the least of the links').</param>
/// <param name="Epoch">See <see cref="ReplicationRecord.Epoch"/>.</param>
/// <param name="Fence">Set while this primary refuses writes.</param>
/// <param name="Promotion">At a promoted primary: what became of the old primary's last writes.</param>
public sealed record ReplicationInfo(
    string ReplicationId,
    ReplicationRole Role,
    ReplicationState State,
    ReplicationModeKind Mode,
    IReadOnlyList<string> VolumeIds,
    string? PeerAddress,
    long AppliedSequence,
    DateTimeOffset? LastSyncTime,
    TimeSpan? LastSyncDuration,
    long LastSyncBytes,
    TimeSpan Lag,
    ReplicationHealth Health,
    string HealthMessage,
    long JournalOutstandingBytes,
    long JournalOutstandingRecords,
    double ShipBytesPerSecond,
    double ApplyBytesPerSecond,
    ResyncProgress Resync,
    long LastResyncChunks,
    long BacklogPlannedThrough,
    long Epoch,
    ReplicationFence? Fence,
    PromotionOutcome? Promotion);
