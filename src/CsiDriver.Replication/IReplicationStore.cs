namespace CsiDriver.Replication;

/// <summary>
/// Where <see cref="ReplicationManager"/> keeps its records: one per replication, each saved
/// whole in one durable step (the plugin's SQLite state store). A transition saves its record
/// before it reports success, and an enable that fails saves nothing, so after any crash the
/// records hold only replications whose enable succeeded, each at its last reported state or
/// at the one before it; the record is the only truth about a replication at this site.
/// </summary>
public interface IReplicationStore
{
    IReadOnlyList<ReplicationRecord> LoadReplications();

    /// <summary>Inserts or replaces the record of <see cref="ReplicationRecord.Id"/>.</summary>
    void SaveReplication(ReplicationRecord record);

    /// <summary>Removing what is not there succeeds.</summary>
    void RemoveReplication(string replicationId);
}
