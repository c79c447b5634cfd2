namespace CsiDriver.Engine.Replication;

/// <summary>A batch does not continue where the replica group stands: applying it would leave a
/// gap (or re-apply part of what is there). Nothing was changed.</summary>
public sealed class ReplicaSequenceException(string journal, long expectedAfter, long gotAfter)
    : EngineException($"replica group '{journal}' is at main-site sequence {expectedAfter}; a batch after {gotAfter} does not continue it")
{
    public string Journal { get; } = journal;

    /// <summary>The group's position: the next batch must start after it.</summary>
    public long ExpectedAfter { get; } = expectedAfter;

    public long GotAfter { get; } = gotAfter;
}

/// <summary>The replica group is being resynchronised, so it is not a consistent image: applying
/// batches, snapshotting or cloning it is refused until the resync completes or is abandoned.</summary>
public sealed class ReplicaResyncingException(string journal, string operation)
    : EngineException($"replica group '{journal}' is resyncing; {operation} is refused until the resync completes or is aborted")
{
    public string Journal { get; } = journal;
}

/// <summary>A resync step (writing chunks, completing) was called with no resync in progress.</summary>
public sealed class ReplicaNotResyncingException(string journal, string operation)
    : EngineException($"replica group '{journal}' is not resyncing; {operation} needs BeginReplicaResync first")
{
    public string Journal { get; } = journal;
}
