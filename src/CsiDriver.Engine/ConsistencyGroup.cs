using CsiDriver.Engine.Journal;

namespace CsiDriver.Engine;

/// <summary>
/// Volumes sharing one journal and one sequence: the engine's unit of write ordering. A write
/// takes <see cref="Gate"/> only to append its record (which assigns the sequence), then
/// applies it under its volume's apply lock, taken before the gate is released so that per
/// volume the data files see writes in sequence order.
/// </summary>
internal sealed class ConsistencyGroup(string journalName, string? name, GroupJournal journal)
{
    /// <summary>Directory and record name of the journal: the group's name, or "~N" for the
    /// group of one of volume number N ('~' is not allowed in names, so they never collide).</summary>
    public string JournalName { get; } = journalName;

    /// <summary>The consistency group's name; null for a group of one.</summary>
    public string? Name { get; } = name;

    public object Gate { get; } = new();

    public GroupJournal Journal { get; } = journal;

    public GroupCommit Commit { get; } = new(journal);

    /// <summary>Changed only while the group is paused.</summary>
    public List<Volume> Members { get; } = [];

    /// <summary>Sequence the last durable checkpoint covers.</summary>
    public long CheckpointSequence { get; set; }

    /// <summary><see cref="GroupJournal.AppendedBytes"/> when the last checkpoint was cut.</summary>
    public long AppendedAtCheckpoint { get; set; }

    public Dictionary<string, JournalConsumer> Consumers { get; } = new(StringComparer.Ordinal);

    /// <summary>Bytes the journal may retain for lagging consumers; null: the engine's default
    /// (<see cref="EngineOptions.RetentionBudgetBytes"/>). Set by whoever registers the consumer
    /// (a replication's journal budget); not persisted, it is set again when that owner starts.</summary>
    public long? RetentionBudgetBytes { get; set; }

    private object? _replica;

    /// <summary>Set once the group is a replica group (at the backup site, or resynced as one);
    /// changed only while the group is paused. Kept boxed and swapped whole, so readers that do
    /// not pause the group never see a torn state.</summary>
    public Replication.ReplicaState? Replica
    {
        get => Volatile.Read(ref _replica) is Replication.ReplicaState state ? state : null;
        set => Volatile.Write(ref _replica, value);
    }

    public static string SoloJournalName(uint volumeNumber) => "~" + volumeNumber;
}

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
}
