using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Replication;

namespace CsiDriver.Engine;

/// <summary>
/// Volumes sharing one journal and one sequence: the engine's unit of write ordering, and the
/// handle callers pass to the engine's group operations (journal consumers, replication); they
/// take it from a member's <see cref="Volume.Group"/>. A group of one ends when its volume is
/// deleted or moves into a named group; the engine then refuses its handle (ArgumentException).
/// A write takes <see cref="Gate"/> only to append its record (which assigns the sequence) and
/// to hold it in <see cref="Overlay"/>; group commit applies it to the data files once durable.
/// Each part of its state belongs to one component of the engine, which alone changes it.
/// </summary>
public sealed class ConsistencyGroup
{
    private object? _replica;

    internal ConsistencyGroup(string journalName, string? name, GroupJournal journal, long overlayBytes)
    {
        JournalName = journalName;
        Name = name;
        Journal = journal;
        Overlay = new WriteOverlay(this, overlayBytes);
        Commit = new GroupCommit(journal, Overlay.ApplyAfterCommit);
    }

    /// <summary>The consistency group's name; null for a group of one.</summary>
    public string? Name { get; }

    /// <summary>Directory and record name of the journal: the group's name, or "~N" for the
    /// group of one of volume number N ('~' is not allowed in names, so they never collide).
    /// Outside the engine only a label (<see cref="ToString"/>): callers hold the group itself.</summary>
    internal string JournalName { get; }

    internal object Gate { get; } = new();

    internal GroupJournal Journal { get; }

    internal GroupCommit Commit { get; }

    /// <summary>Updates journaled, not yet durable, so not yet in the data files.</summary>
    internal WriteOverlay Overlay { get; }

    /// <summary>The catalog's: changed under its lock while the group is paused.</summary>
    internal List<Volume> Members { get; } = [];

    /// <summary>The checkpointer's: the sequence the last durable checkpoint covers.</summary>
    internal long CheckpointSequence { get; set; }

    /// <summary>The checkpointer's: <see cref="GroupJournal.AppendedBytes"/> when the last checkpoint was cut.</summary>
    internal long AppendedAtCheckpoint { get; set; }

    /// <summary>The journal consumers' (under their lock): who reads this journal.</summary>
    internal Dictionary<string, JournalConsumer> Consumers { get; } = new(StringComparer.Ordinal);

    /// <summary>The journal consumers' (under their lock): bytes the journal may retain for
    /// lagging consumers; null: the engine's default (<see cref="EngineOptions.RetentionBudgetBytes"/>).
    /// Set by whoever registers the consumer (a replication's journal budget); not persisted, it
    /// is set again when that owner starts.</summary>
    internal long? RetentionBudgetBytes { get; set; }

    /// <summary>The replica applier's: set once the group is a replica group (at the backup
    /// site, or resynced as one); changed only under <see cref="Gate"/> (a batch, with its
    /// record's append) or while the group is paused, so a pause sees it with the records that
    /// set it. It may run ahead of durability (see <see cref="ReplicaApplier.Position"/>). Kept boxed and swapped
    /// whole, so readers that do not pause the group never see a torn state.</summary>
    internal ReplicaState? Replica
    {
        get => Volatile.Read(ref _replica) is ReplicaState state ? state : null;
        set => Volatile.Write(ref _replica, value);
    }

    /// <summary>Snapshots and clones of a resyncing replica would not be a consistent image.</summary>
    /// <exception cref="ReplicaResyncingException">The group is being resynced.</exception>
    internal void CheckNotResyncing(string operation)
    {
        if (Replica is { Resyncing: true })
        {
            throw new ReplicaResyncingException(JournalName, operation);
        }
    }

    /// <summary>The journal's name, for logs and metrics.</summary>
    public override string ToString() => JournalName;

    internal static string SoloJournalName(uint volumeNumber) => "~" + volumeNumber;
}
