namespace CsiDriver.ConformanceTests.Replication;

/// <summary>The names under which `--metrics-address` exposes a replication, labelled by its
/// replication id (the volume group's id for a group).</summary>
public static class ReplicationMetrics
{
    public const string ReplicationLabel = "replication";
    public const string JournalOutstandingBytes = "formation_replication_journal_outstanding_bytes";
    public const string ApplyBytesPerSecond = "formation_replication_apply_bytes_per_second";

    /// <summary>Per journal consumer: 1 once records it had not passed were released (past the budget).</summary>
    public const string ConsumerOverrun = "formation_journal_consumer_overrun";

    /// <summary>The journal consumer the shipper of a replication reads through.</summary>
    public const string ShipperConsumer = "replication";
}
