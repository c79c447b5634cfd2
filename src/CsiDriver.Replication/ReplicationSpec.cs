namespace CsiDriver.Replication;

public enum ReplicationModeKind
{
    /// <summary>One journal stream per consistency group: the backup is a prefix of the group.</summary>
    Group,

    /// <summary>Comparison only: one stream and one replica group of one per volume.</summary>
    PerVolume,
}

/// <summary>What EnableAsync is given (VolumeReplicationClass parameters and secrets, decoded by the caller).</summary>
/// <param name="ReplicationId">The consistency-group name for a group, the volume id for a single volume.</param>
/// <param name="VolumeIds">The replicated volumes; at the main site they share one journal in group mode.</param>
/// <param name="GroupName">Consistency-group name the replicas get at the backup (null: a group of one).</param>
/// <param name="PeerAddress">host:port of the other site's link.</param>
/// <param name="JournalBudgetBytes">Bytes the journal may retain for this replication while the backup lags (the engine releases older records past it and tracks dirty chunks instead); null: the engine's default.</param>
/// <param name="Tls">Link TLS material from the replication's secrets, stored with its record; null: the serve flags' material.</param>
/// <param name="Parameters">The parameters as the caller was given them, recorded: a repeated enable with others conflicts (null: not compared).</param>
public sealed record ReplicationSpec(
    string ReplicationId,
    IReadOnlyList<string> VolumeIds,
    string? GroupName,
    string PeerAddress,
    ReplicationModeKind Mode = ReplicationModeKind.Group,
    long? JournalBudgetBytes = null,
    SiteLinkTls? Tls = null,
    IReadOnlyDictionary<string, string>? Parameters = null);
