namespace CsiDriver.Replication;

/// <summary>What a shipper asks of the receiving site when it opens a stream: which
/// replication, its volumes as the main site has them, and who is asking.</summary>
/// <param name="GroupName">Consistency group the replicas get here (null: a group of one).</param>
/// <param name="SiteAddress">The shipping site's own link address, for a later GetRole (null: not told).</param>
/// <param name="CommonCutSequence">A promoted backup shipping back to the old primary: the last
/// source sequence both held, in this (receiving) site's sequence space; 0 otherwise.</param>
/// <param name="Epoch">The shipping site's epoch (0 from a site that predates epochs).</param>
public sealed record StreamRequest(
    string ReplicationId,
    ReplicationModeKind Mode,
    string? GroupName,
    IReadOnlyList<VolumeDescription> Volumes,
    string SiteId,
    string? SiteAddress,
    long CommonCutSequence,
    long Epoch = 0);

/// <summary>A replicated volume as the main site describes it to the backup: its size, and its
/// CSI name, access type and file system, so the backup's plugin can list, stage and snapshot
/// the replica like any volume.</summary>
public sealed record VolumeDescription(string VolumeId, long SizeBytes, string Name, string AccessType, string FsType);
