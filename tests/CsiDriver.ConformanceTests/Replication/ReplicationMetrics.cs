namespace CsiDriver.ConformanceTests.Replication;

/// <summary>The names under which `--metrics-address` exposes a replication (csi-addons
/// replication of a group or volume), labelled by its replication id.</summary>
public static class ReplicationMetrics
{
    public const string ReplicationLabel = "replication_id";
    public const string JournalBytes = "formation_replication_journal_bytes";
    public const string AppliedSequence = "formation_replication_applied_sequence";
    public const string LagSeconds = "formation_replication_lag_seconds";
}
