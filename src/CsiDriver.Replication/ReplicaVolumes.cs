using CsiDriver.Engine;

namespace CsiDriver.Replication;

/// <summary>
/// Makes the replica volumes a stream names exist at the receiving site: same ids, the given
/// consistency group, read-only, with rows (<see cref="IVolumeRows"/>) so ListVolumes,
/// CreateSnapshot and NodeStage treat them like any volume. Keeps the rows' invariants: a
/// group's row before its volumes join it; an engine volume before its row.
/// </summary>
public static class ReplicaVolumes
{
    /// <exception cref="ReplicationStateException">A volume of that id exists here and is not a replica of the group.</exception>
    public static void Ensure(StorageEngine engine, IVolumeRows rows, IReadOnlyList<VolumeDescription> volumes, string? groupName)
    {
        if (groupName is not null)
        {
            rows.EnsureGroup(groupName);
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
            rows.EnsureVolume(wanted, Math.Max(wanted.SizeBytes, volume?.Size ?? 0));
        }
    }
}
