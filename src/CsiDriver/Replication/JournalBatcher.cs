using CsiDriver.Engine;
using CsiDriver.Engine.Journal;
using Formation.SiteLink.V1;

namespace CsiDriver.Replication;

/// <summary>
/// Cuts a journal into site-link batches: records after a sequence, in order, at most
/// <see cref="SiteLinkProtocol.MaxPayloadPerMessage"/> payload bytes each. A batch covers every
/// sequence in its range; records of volumes outside the link (another replication's, or
/// another volume's in per-volume mode) and records that change no data are left out.
/// One resumable reader of the journal serves consecutive batches, also across the moments
/// the shipper has caught up with the writers, so tailing the journal reads each record once.
/// </summary>
public sealed class JournalBatcher(StorageEngine engine, ConsistencyGroup journal, IReadOnlySet<string> volumeIds) : IDisposable
{
    private JournalReader? _reader;
    private JournalRecord? _held;

    /// <summary>The next batch after <paramref name="after"/>, or null when the journal holds nothing newer.</summary>
    /// <exception cref="Engine.OutOfRangeException">Records after <paramref name="after"/> were released (overrun).</exception>
    public (Batch Batch, long PayloadBytes)? Next(long after)
    {
        if (_reader is null || after + 1 != (_held?.Sequence ?? _reader.NextSequence))
        {
            EndRead();
            if (engine.GetJournalStatus(journal).LastSequence <= after)
            {
                return null;
            }
            _reader = engine.OpenJournalReader(journal, after + 1);
        }
        Batch? batch = null;
        long bytes = 0;
        while (_held is not null || _reader.TryRead(out _held))
        {
            var record = _held;
            var update = ToUpdate(record);
            if (update is not null && batch is not null && batch.Updates.Count > 0
                && (bytes + record.Payload.Length > SiteLinkProtocol.MaxPayloadPerMessage || batch.Updates.Count >= SiteLinkProtocol.MaxUpdatesPerMessage))
            {
                break; // the held record starts the next batch
            }
            _held = null;
            batch ??= new Batch { AfterSequence = after };
            if (update is not null)
            {
                batch.Updates.Add(update);
                bytes += record.Payload.Length;
            }
            batch.LastSequence = record.Sequence;
            batch.SourceTimestampMicros = record.TimestampMicros;
        }
        return batch is null ? null : (batch, bytes);
    }

    public void Dispose() => EndRead();

    private void EndRead()
    {
        _reader?.Dispose();
        _reader = null;
        _held = null;
    }

    private Update? ToUpdate(JournalRecord record)
    {
        if (record.VolumeId is null || !volumeIds.Contains(record.VolumeId))
        {
            return null;
        }
        return record.Kind is JournalRecordKind.Write or JournalRecordKind.Trim or JournalRecordKind.WriteZeroes or JournalRecordKind.Resize
            ? SiteLinkProtocol.ToWire(new Engine.Replication.ReplicaUpdate(record.VolumeId, record.Kind, record.Offset, record.Length, record.Payload))
            : null;
    }
}
