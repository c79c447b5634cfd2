namespace CsiDriver.ConformanceTests.Replication;

/// <summary>The names under which `--metrics-address` exposes a replication, labelled by its
/// replication id (the volume group's id for a group).</summary>
public static class ReplicationMetrics
{
    public const string ReplicationLabel = "replication";
    public const string JournalOutstandingBytes = "formation_replication_journal_outstanding_bytes";
    public const string ApplyBytesPerSecond = "formation_replication_apply_bytes_per_second";
}
