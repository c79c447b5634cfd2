namespace CsiDriver.State;

/// <summary>What a csi-addons replication source is: one volume, or a volume group (an engine
/// consistency group).</summary>
public enum ReplicationSourceKind
{
    Volume,
    VolumeGroup,
}

/// <summary>Which way the data flows: a primary's writes are shipped to its peer; a secondary
/// applies what its peer ships and refuses every other write.</summary>
public enum ReplicationRole
{
    Primary,
    Secondary,
}

/// <summary>
/// One enabled replication, keyed by its replication id: the volume group id (= consistency
/// group name) for a group, the volume id for a single volume. The same id names it at both
/// sites. <see cref="Parameters"/> are the VolumeReplicationClass parameters it was enabled
/// with (see <c>ReplicationParameters</c>); <see cref="Secrets"/> the TLS material it was
/// enabled with, kept so the link comes back after a restart (never logged).
/// <see cref="CoReplicationId"/> is the CO's own replication_id, empty when it sent none.
/// </summary>
public sealed record ReplicationRecord(
    string Id,
    ReplicationSourceKind SourceKind,
    string CoReplicationId,
    IReadOnlyDictionary<string, string> Parameters,
    IReadOnlyDictionary<string, string> Secrets,
    ReplicationRole Role,
    DateTimeOffset EnabledAt);
