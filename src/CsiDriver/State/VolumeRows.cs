using CsiDriver.Replication;

namespace CsiDriver.State;

/// <summary>Replication's view of the volume and group rows (see <see cref="IVolumeRows"/>).
/// A replica keeps the main site's CSI name unless a local volume already uses it (names are
/// unique per site); a replica group whose name is taken gets "-replica" after it.</summary>
public sealed class VolumeRows(StateStore state, TimeProvider clock) : IVolumeRows
{
    public VolumeLabels? Find(string volumeId) =>
        state.FindVolume(volumeId) is { } row ? new VolumeLabels(row.Name, row.AccessType.ToString(), row.FsType) : null;

    public void EnsureGroup(string groupName)
    {
        if (state.FindVolumeGroup(groupName) is null)
        {
            var name = state.FindVolumeGroupByName(groupName) is null ? groupName : $"{groupName}-replica";
            state.InsertVolumeGroup(new VolumeGroupRecord(groupName, name, new Dictionary<string, string>(), null, clock.GetUtcNow()));
        }
    }

    public void EnsureVolume(VolumeDescription volume, long sizeBytes)
    {
        if (state.FindVolume(volume.VolumeId) is not null)
        {
            RecordSize(volume.VolumeId, sizeBytes);
            return;
        }
        var name = volume.Name.Length > 0 && state.FindVolumeByName(volume.Name) is null ? volume.Name : volume.VolumeId;
        state.InsertVolume(new VolumeRecord
        {
            Id = volume.VolumeId,
            Name = name,
            CapacityBytes = sizeBytes,
            AccessType = Enum.TryParse<AccessType>(volume.AccessType, out var access) ? access : AccessType.Block,
            FsType = volume.FsType,
            Parameters = new Dictionary<string, string> { ["replicaOf"] = volume.Name },
            CreatedAt = clock.GetUtcNow(),
        });
    }

    public void RecordSize(string volumeId, long sizeBytes)
    {
        if (state.FindVolume(volumeId) is { } row && row.CapacityBytes < sizeBytes)
        {
            state.UpdateCapacity(volumeId, sizeBytes);
        }
    }
}
