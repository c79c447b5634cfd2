namespace CsiDriver.Replication;

/// <summary>Snapshots replication keeps for itself, which have no CSI row; their purpose
/// (SnapshotPurpose.ResyncSource or ReplicationImage) says so, their names only help a reader.</summary>
public static class ReplicationSnapshots
{
    /// <summary>Prefix of the manager's and shipper's snapshots (resync source, promotion base, failback protection).</summary>
    public const string Prefix = "repl-";
}
