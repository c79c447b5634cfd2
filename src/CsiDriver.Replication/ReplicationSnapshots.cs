using CsiDriver.Engine;

namespace CsiDriver.Replication;

/// <summary>Snapshots replication keeps for itself, which have no CSI row and must survive a restart.</summary>
public static class ReplicationSnapshots
{
    /// <summary>Prefix of the manager's and shipper's snapshots (resync source, promotion base, failback protection).</summary>
    public const string Prefix = "repl-";

    /// <summary>True for the manager's snapshots and the engine's protective snapshots of a resync.</summary>
    public static bool IsOwned(string snapshotId) =>
        snapshotId.StartsWith(Prefix, StringComparison.Ordinal)
        || snapshotId.StartsWith(StorageEngine.ProtectiveSnapshotId(""), StringComparison.Ordinal);
}
