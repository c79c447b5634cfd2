using CsiDriver.Engine.Journal;

namespace CsiDriver.Engine.Replication;

/// <summary>
/// Joins consecutive batches into one, so that one journal record and one sync make them all
/// durable (the backup's apply rate is bounded by syncs per byte). The joined batch covers
/// (first AfterSequence, last LastSequence] and applies, like any batch, all or nothing; it
/// stays within the journal's record limit.
/// </summary>
public sealed class ReplicaBatchBuilder
{
    /// <summary>Largest record a batch may encode to: the journal's record limit (32 MiB).</summary>
    public const int MaxRecordBytes = JournalFormat.MaxPayload;

    private readonly List<ReplicaUpdate> _updates = [];
    private long _recordBytes = ReplicaBatchRecord.HeaderSize;
    private long _afterSequence;
    private long _lastSequence;
    private long _sourceTimestampMicros;

    public int Batches { get; private set; }

    /// <summary>Adds <paramref name="batch"/> if it starts where the batches so far end and the
    /// joined record still fits; the first batch is always taken (the engine judges its size).</summary>
    public bool TryAdd(ReplicaBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var bytes = ReplicaBatchRecord.SizeOf(batch.Updates) - ReplicaBatchRecord.HeaderSize;
        if (Batches > 0 && (batch.AfterSequence != _lastSequence || _recordBytes + bytes > MaxRecordBytes))
        {
            return false;
        }
        if (Batches == 0)
        {
            _afterSequence = batch.AfterSequence;
        }
        _updates.AddRange(batch.Updates);
        _recordBytes += bytes;
        _lastSequence = batch.LastSequence;
        _sourceTimestampMicros = batch.SourceTimestampMicros;
        Batches++;
        return true;
    }

    public ReplicaBatch Build() => Batches == 0
        ? throw new InvalidOperationException("no batch was added")
        : new ReplicaBatch(_afterSequence, _lastSequence, _sourceTimestampMicros, _updates.ToArray());
}
