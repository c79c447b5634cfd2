namespace CsiDriver.Engine.Journal;

/// <summary>One journal record as handed to consumers (the replication shipper).</summary>
/// <param name="VolumeId">The volume's id when it still exists, else null.</param>
/// <param name="TimestampMicros">Main-site time of the write, unix microseconds.</param>
public sealed record JournalRecord(
    long Sequence,
    JournalRecordKind Kind,
    uint VolumeNumber,
    string? VolumeId,
    long Offset,
    long Length,
    long TimestampMicros,
    ReadOnlyMemory<byte> Payload)
{
    /// <summary>The record read from the journal, with its own copy of the payload (a reader's
    /// buffer is reused for the next record).</summary>
    internal static JournalRecord Of(in RecordHeader header, string? volumeId, ReadOnlyMemory<byte> payload) =>
        Lent(header, volumeId, payload.ToArray());

    /// <summary>The record with <paramref name="payload"/> as it is, not copied: valid as long as the caller says.</summary>
    internal static JournalRecord Lent(in RecordHeader header, string? volumeId, ReadOnlyMemory<byte> payload) =>
        new(header.Sequence, header.Kind, header.VolumeNumber, volumeId, header.Offset, header.Length, header.TimestampMicros, payload);
}

/// <summary>What recovery found in one group's journal.</summary>
/// <param name="Journal">The group's journal name.</param>
/// <param name="ReplayedRecords">Records after the checkpoint applied to the data files.</param>
/// <param name="ReplayedBytes">Journal bytes read to replay them.</param>
/// <param name="CutReason">Why the journal's tail was cut off (torn or corrupt), or null.</param>
/// <param name="CutBytes">Bytes discarded from the tail.</param>
/// <param name="ReplayTime">Time spent reading and applying the journal.</param>
public sealed record JournalRecoveryReport(
    string Journal,
    long CheckpointSequence,
    long LastSequence,
    long ReplayedRecords,
    long ReplayedBytes,
    string? CutReason,
    long CutBytes,
    TimeSpan ReplayTime);
