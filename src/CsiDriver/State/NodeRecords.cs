namespace CsiDriver.State;

/// <summary>
/// A volume staged on this node: the loop device attached for it, bound to the one file of the
/// FUSE mount at <see cref="FuseDirectory"/> that csidriver serves from the engine, and, for
/// mount volumes, the file system mounted at <see cref="StagingPath"/>. Whether the attachment
/// still works is not recorded: the attacher knows which sessions it serves (see
/// <see cref="Node.VolumeAttacher"/>).
/// </summary>
public sealed record StagingRecord(
    string VolumeId,
    string StagingPath,
    string Device,
    string FuseDirectory,
    AccessType AccessType,
    string FsType,
    bool ReadOnly);

/// <summary>A bind mount the node made at a pod's target path.</summary>
public sealed record NodePublicationRecord(string TargetPath, string VolumeId, bool ReadOnly);
