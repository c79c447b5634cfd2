namespace CsiDriver.Engine;

/// <summary>A registered reader of a group's journal (the replication shipper): records after
/// <see cref="Position"/> are kept for it, within the group's retention budget.</summary>
public sealed class JournalConsumer(string name, long position)
{
    public string Name { get; } = name;

    /// <summary>Newest sequence the consumer has passed.</summary>
    public long Position { get; internal set; } = position;

    /// <summary>Records it had not passed were released to stay within budget: it must resync
    /// by changed chunks before consuming again.</summary>
    public bool Overrun { get; internal set; }

    /// <summary>A checkpoint has recorded it (or it was loaded from one): registering it again
    /// need not wait for one.</summary>
    internal bool Saved { get; set; }
}

/// <summary>A journal's state: what it holds, how far it is durable and checkpointed, who reads it.</summary>
/// <param name="FirstSequence">Oldest record held (or the next to come when none is).</param>
/// <param name="ReservedBytes">Free space the journal has set aside to fill its segment and start the next.</param>
public sealed record JournalStatus(
    ConsistencyGroup Group,
    IReadOnlyList<string> VolumeIds,
    long FirstSequence,
    long LastSequence,
    long DurableSequence,
    long CheckpointSequence,
    long RetainedBytes,
    long ReservedBytes,
    long RetentionBudgetBytes,
    IReadOnlyList<JournalConsumer> Consumers)
{
    /// <summary>The journal's name, a label for logs and metrics.</summary>
    public string Journal => Group.ToString();

    /// <summary>The named group, or null for a group of one.</summary>
    public string? ConsistencyGroup => Group.Name;

    public bool OverBudget => RetainedBytes > RetentionBudgetBytes;
}

/// <summary>Raised when a journal outgrew its retention budget and released records a consumer
/// had not passed yet.</summary>
public sealed class RetentionBudgetExceededEventArgs(ConsistencyGroup group, string consumer, long consumerPosition, long releasedThrough) : EventArgs
{
    public ConsistencyGroup Group { get; } = group;

    public string Consumer { get; } = consumer;

    public long ConsumerPosition { get; } = consumerPosition;

    public long ReleasedThrough { get; } = releasedThrough;
}
