using CsiDriver.Engine;
using CsiDriver.State;

namespace CsiDriver.Replication;

/// <summary>
/// Makes the replica volumes a stream names exist at the receiving site: same ids, the given
/// consistency group, read-only, with rows in the plugin's state store so ListVolumes,
/// CreateSnapshot and NodeStage treat them like any volume. Follows the state store's
/// invariants: a group's row before its volumes join it; an engine volume before its row.
/// </summary>
public static class ReplicaVolumes
{
    /// <exception cref="ReplicationStateException">A volume of that id exists here and is not a replica of the group.</exception>
    public static void Ensure(StorageEngine engine, StateStore? state, IReadOnlyList<VolumeDescription> volumes, string? groupName, TimeProvider clock)
    {
        if (groupName is not null && state is not null && state.FindVolumeGroup(groupName) is null)
        {
            state.InsertVolumeGroup(new VolumeGroupRecord(groupName, UniqueGroupName(state, groupName), new Dictionary<string, string>(), null, clock.GetUtcNow()));
        }
        foreach (var wanted in volumes)
        {
            var volume = engine.FindVolume(wanted.VolumeId);
            if (volume is null)
            {
                engine.CreateReplicaVolume(wanted.VolumeId, wanted.SizeBytes, groupName);
            }
            else
            {
                if (volume.ConsistencyGroup != groupName)
                {
                    throw new ReplicationStateException(
                        $"volume '{wanted.VolumeId}' exists here in consistency group '{volume.ConsistencyGroup ?? "(none)"}', not '{groupName ?? "(none)"}' as the replication needs");
                }
                if (!volume.IsReadOnly)
                {
                    throw new ReplicationStateException(
                        $"volume '{wanted.VolumeId}' exists here and is writable: it is not a replica (demote it first)");
                }
                if (volume.Size < wanted.SizeBytes)
                {
                    engine.ExpandVolume(wanted.VolumeId, wanted.SizeBytes);
                }
            }
            if (state is not null)
            {
                EnsureRow(state, wanted, Math.Max(wanted.SizeBytes, volume?.Size ?? 0), clock);
            }
        }
    }

    /// <summary>Keeps the row's capacity in step with a replica grown by the main site.</summary>
    public static void RecordSize(StateStore? state, string volumeId, long sizeBytes)
    {
        if (state?.FindVolume(volumeId) is { } row && row.CapacityBytes < sizeBytes)
        {
            state.UpdateCapacity(volumeId, sizeBytes);
        }
    }

    private static void EnsureRow(StateStore state, VolumeDescription wanted, long sizeBytes, TimeProvider clock)
    {
        if (state.FindVolume(wanted.VolumeId) is { } row)
        {
            if (row.CapacityBytes < sizeBytes)
            {
                state.UpdateCapacity(wanted.VolumeId, sizeBytes);
            }
            return;
        }
        // The CSI name is unique per site; a local volume already using it keeps it.
        var name = wanted.Name.Length > 0 && state.FindVolumeByName(wanted.Name) is null ? wanted.Name : wanted.VolumeId;
        state.InsertVolume(new VolumeRecord
        {
            Id = wanted.VolumeId,
            Name = name,
            CapacityBytes = sizeBytes,
            AccessType = Enum.TryParse<AccessType>(wanted.AccessType, out var access) ? access : AccessType.Block,
            FsType = wanted.FsType,
            Parameters = new Dictionary<string, string> { ["replicaOf"] = wanted.Name },
            CreatedAt = clock.GetUtcNow(),
        });
    }

    private static string UniqueGroupName(StateStore state, string groupName) =>
        state.FindVolumeGroupByName(groupName) is null ? groupName : $"{groupName}-replica";
}
