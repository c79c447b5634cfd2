namespace CsiDriver.State;

/// <summary>
/// A volume staged on this node: the block device attached for it (a loop device over the
/// file nbdfuse exposes in <see cref="FuseDirectory"/>) and, for mount volumes, the file system
/// mounted at <see cref="StagingPath"/>. <see cref="ServerInstance"/> names the csidriver run
/// whose NBD server the attachment is connected to: an attachment from an earlier run lost its
/// connection when that run ended.
/// </summary>
public sealed record StagingRecord(
    string VolumeId,
    string StagingPath,
    string Device,
    string FuseDirectory,
    int HelperPid,
    string ServerInstance,
    AccessType AccessType,
    string FsType,
    bool ReadOnly);

/// <summary>A bind mount the node made at a pod's target path.</summary>
public sealed record NodePublicationRecord(string TargetPath, string VolumeId, bool ReadOnly);
