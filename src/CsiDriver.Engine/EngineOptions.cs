using Microsoft.Extensions.Logging;

namespace CsiDriver.Engine;

/// <summary>Tunables of one engine instance. Defaults suit a node serving a few dozen volumes.</summary>
public sealed record EngineOptions
{
    /// <summary>A journal segment is closed and a new one started past this size.</summary>
    public long SegmentBytes { get; init; } = 64L << 20;

    /// <summary>A checkpoint is taken once a group's journal has grown this much since the
    /// last one: this bounds recovery time (replay reads at most about this much per group).</summary>
    public long CheckpointJournalBytes { get; init; } = 256L << 20;

    /// <summary>A checkpoint is also taken this often while anything changed.</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Journal bytes a group keeps for lagging consumers (replication). Past it the
    /// oldest segments the checkpoint has passed are released anyway and the consumers that
    /// still needed them are marked overrun (they must resync by changed chunks).</summary>
    public long RetentionBudgetBytes { get; init; } = 4L << 30;

    /// <summary>Bytes of writes a group holds in memory until its journal is durable (a FLUSH,
    /// a FUA write or a background commit makes it so); past half of it a commit starts in the
    /// background, and a writer reaching it commits the group before it goes on.</summary>
    public long OverlayBytes { get; init; } = 32L << 20;

    /// <summary>False turns off the background checkpointer (tests drive checkpoints).</summary>
    public bool BackgroundCheckpoints { get; init; } = true;

    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Time source for record timestamps and snapshot creation times.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;
}
