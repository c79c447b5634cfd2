namespace CsiDriver.State;

/// <summary>What a csi-addons replication source is: one volume, or a volume group (an engine
/// consistency group).</summary>
public enum ReplicationSourceKind
{
    Volume,
    VolumeGroup,
}

/// <summary>
/// One replication enabled through csi-addons at this site, as the CO asked for it: keyed by
/// the replication id (the volume group id, which is also the consistency group name, or the
/// volume id), with the kind of source, the CO's own replication_id (empty when it sent none)
/// and the VolumeReplicationClass parameters as given, against which a repeated enable is
/// compared. How the replication runs (role, state, positions) is the replication manager's,
/// kept in its own catalog; this row holds nothing of it, so the two never disagree on a fact.
/// Secrets are never stored here.
/// </summary>
public sealed record EnabledReplicationRecord(
    string Id,
    ReplicationSourceKind SourceKind,
    string CoReplicationId,
    IReadOnlyDictionary<string, string> Parameters,
    DateTimeOffset EnabledAt);
