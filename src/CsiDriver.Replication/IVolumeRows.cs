namespace CsiDriver.Replication;

/// <summary>
/// The plugin's own rows of volumes and groups (what its CSI calls list and stage), as
/// replication needs them: the main site describes a volume to the backup from its row, and the
/// backup gives its replicas rows so the plugin treats them like any volume. Implemented over
/// the state store. Invariants the callers keep: a group's row exists before a replica joins
/// the group; a replica's engine volume exists before its row.
/// </summary>
public interface IVolumeRows
{
    /// <summary>The volume's CSI name, access type and file system; null when it has no row.</summary>
    VolumeLabels? Find(string volumeId);

    /// <summary>Gives a replica group a row unless it has one.</summary>
    void EnsureGroup(string groupName);

    /// <summary>Gives a replica volume a row of at least <paramref name="sizeBytes"/>: inserted
    /// when missing, its capacity raised when smaller.</summary>
    void EnsureVolume(VolumeDescription volume, long sizeBytes);

    /// <summary>Raises the capacity of a replica's row to a size the main site gave it.</summary>
    void RecordSize(string volumeId, long sizeBytes);
}

/// <summary>How the plugin knows a volume: its CSI name, access type and file system.</summary>
public sealed record VolumeLabels(string Name, string AccessType, string FsType);
