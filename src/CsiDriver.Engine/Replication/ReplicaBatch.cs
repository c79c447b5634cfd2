using CsiDriver.Engine.Journal;

namespace CsiDriver.Engine.Replication;

/// <summary>One main-site update to apply at the backup.</summary>
/// <param name="VolumeId">The replica volume (same id as at the main site).</param>
/// <param name="Kind">Write, Trim, WriteZeroes or Resize (Length is then the new size).</param>
/// <param name="Payload">The bytes of a Write (exactly Length of them); empty otherwise.</param>
public sealed record ReplicaUpdate(string VolumeId, JournalRecordKind Kind, long Offset, long Length, ReadOnlyMemory<byte> Payload)
{
    public static ReplicaUpdate Write(string volumeId, long offset, ReadOnlyMemory<byte> data) =>
        new(volumeId, JournalRecordKind.Write, offset, data.Length, data);
}

/// <summary>Main-site records in (AfterSequence, LastSequence] of one replication, in order.
/// Records in that range that are not listed are not for this replica (per-volume mode filters
/// by volume; snapshots and barriers carry no data).</summary>
/// <param name="SourceTimestampMicros">Main-site time of record LastSequence, unix µs.</param>
public sealed record ReplicaBatch(long AfterSequence, long LastSequence, long SourceTimestampMicros, IReadOnlyList<ReplicaUpdate> Updates);

/// <summary>How far a replica group has applied: the main-site sequence and that record's
/// main-site time. While <paramref name="Resyncing"/> the replicas are not a prefix image; the
/// position is then the one the group had before the resync (restored if it is abandoned).</summary>
public sealed record ReplicaPosition(long SourceSequence, long SourceTimestampMicros, bool Resyncing)
{
    public static ReplicaPosition None { get; } = new(0, 0, false);
}

/// <summary>A batch a replica group has taken: the position it leaves the group at (readers and
/// snapshots see the whole batch from then on) and a task that completes once that position is
/// durable, which is when it may be acknowledged. The task faults when the sync fails.</summary>
public sealed record ReplicaBatchAppended(ReplicaPosition Position, Task Durable);
