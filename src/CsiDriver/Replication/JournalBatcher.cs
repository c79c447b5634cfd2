using CsiDriver.Engine;
using CsiDriver.Engine.Journal;
using Formation.SiteLink.V1;

namespace CsiDriver.Replication;

/// <summary>
/// Cuts a journal into site-link batches: records after a sequence, in order, at most
/// <see cref="SiteLinkProtocol.MaxPayloadPerMessage"/> payload bytes each. A batch covers every
/// sequence in its range; records of volumes outside the link (another replication's, or
/// another volume's in per-volume mode) and records that change no data are left out.
/// One read of the journal serves consecutive batches until it reaches the newest record of
/// its start (a read starts by scanning its segment, so catching up costs one scan, not one
/// per batch).
/// </summary>
public sealed class JournalBatcher(StorageEngine engine, string journal, IReadOnlySet<string> volumeIds) : IDisposable
{
    private IEnumerator<JournalRecord>? _read;
    private JournalRecord? _held;
    private long _readAfter = -1;

    /// <summary>The next batch after <paramref name="after"/>, or null when the journal holds nothing newer.</summary>
    /// <exception cref="Engine.OutOfRangeException">Records after <paramref name="after"/> were released (overrun).</exception>
    public (Batch Batch, long PayloadBytes)? Next(long after)
    {
        if (_read is null || after != _readAfter)
        {
            EndRead();
            if (engine.GetJournalStatus(journal).LastSequence <= after)
            {
                return null;
            }
            _read = engine.ReadJournal(journal, after + 1).GetEnumerator();
        }
        Batch? batch = null;
        long bytes = 0;
        while (_held is not null || _read.MoveNext())
        {
            var record = _held ?? _read.Current;
            _held = null;
            var update = ToUpdate(record);
            if (update is not null && batch is not null && batch.Updates.Count > 0
                && (bytes + record.Payload.Length > SiteLinkProtocol.MaxPayloadPerMessage || batch.Updates.Count >= SiteLinkProtocol.MaxUpdatesPerMessage))
            {
                _held = record; // first of the next batch
                break;
            }
            batch ??= new Batch { AfterSequence = after };
            if (update is not null)
            {
                batch.Updates.Add(update);
                bytes += record.Payload.Length;
            }
            batch.LastSequence = record.Sequence;
            batch.SourceTimestampMicros = record.TimestampMicros;
        }
        if (_held is null)
        {
            EndRead();
        }
        else
        {
            _readAfter = batch!.LastSequence;
        }
        return batch is null ? null : (batch, bytes);
    }

    public void Dispose() => EndRead();

    private void EndRead()
    {
        _read?.Dispose();
        _read = null;
        _held = null;
        _readAfter = -1;
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
