using CsiAddons.VolumeGroup;
using CsiDriver.Rpc;
using CsiDriver.State;
using Google.Protobuf.Collections;

namespace CsiDriver.Csi;

public sealed partial class VolumeGroupService
{
    /// <summary>
    /// The list REPLACES the membership: listed volumes not in the group move in, members not
    /// listed move out to a group of their own (an empty list empties the group). Every listed
    /// volume is checked before anything moves, so a refused call changes nothing; a call
    /// interrupted part way is finished by repeating it.
    /// </summary>
    private Task<ModifyVolumeGroupMembershipResponse> ModifyVolumeGroupMembership(ModifyVolumeGroupMembershipRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeGroupId, "volume_group_id");
        VolumeParameters.RequireKnown(request.Parameters, [], "parameters");
        var wanted = RequireVolumeIds(request.VolumeIds);
        using var _ = driver.Locks.Acquire("volume group", request.VolumeGroupId);
        var group = RequireGroup(request.VolumeGroupId);
        var current = Members(group.Id).Select(v => v.Id).ToList();
        var leaving = current.Except(wanted, StringComparer.Ordinal).ToList();
        var joining = wanted.Except(current, StringComparer.Ordinal).ToList();
        using (VolumeLocks.Acquire(driver.Locks, leaving.Concat(joining)))
        {
            RequireNotReplicated(group.Id, leaving.Concat(joining));
            RequireJoinable(joining, group.Id);
            foreach (var volumeId in leaving)
            {
                driver.Engine.MoveVolume(volumeId, null);
            }
            foreach (var volumeId in joining)
            {
                driver.Engine.MoveVolume(volumeId, group.Id);
            }
            // The list given here supersedes an interrupted create's.
            if (group.PendingVolumeIds is not null)
            {
                driver.State.CompleteVolumeGroup(group.Id);
            }
        }
        return Task.FromResult(new ModifyVolumeGroupMembershipResponse { VolumeGroup = ToAddons(group.Id) });
    }

    /// <summary>A replicated group's members are its backup's replica volumes: a volume moved in
    /// would not be shipped, one moved out would still be promoted with the rest. So is a volume
    /// replicated on its own, whose journal the move would change. Either is FAILED_PRECONDITION
    /// until replication is disabled (the replication calls hold the group's lock, so this
    /// cannot race with an enable).</summary>
    private void RequireNotReplicated(string groupId, IEnumerable<string> moving)
    {
        if (driver.Replication.IsReplicated(groupId))
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"volume group '{groupId}' is replicated; disable its replication (DisableVolumeReplication) before changing its membership");
        }
        if (moving.FirstOrDefault(volumeId => driver.Replication.IsReplicated(volumeId)) is { } replicated)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"volume '{replicated}' is replicated on its own; disable its replication (DisableVolumeReplication) before moving it between groups");
        }
    }

    /// <summary>Moves a create's volumes into its group and marks the create finished; inserts
    /// the row of a new group first (see StateStore's volume-group invariant). The volumes are
    /// checked before the row is written, so a refused create leaves nothing behind.</summary>
    private void MoveInCreated(VolumeGroupRecord group, bool isNew)
    {
        var volumeIds = group.PendingVolumeIds ?? [];
        using var volumeLocks = VolumeLocks.Acquire(driver.Locks, volumeIds);
        RequireJoinable(volumeIds, group.Id);
        if (isNew)
        {
            driver.State.InsertVolumeGroup(group);
        }
        foreach (var volumeId in volumeIds)
        {
            driver.Engine.MoveVolume(volumeId, group.Id);
        }
        if (group.PendingVolumeIds is not null)
        {
            driver.State.CompleteVolumeGroup(group.Id);
        }
    }

    /// <summary>
    /// Each volume exists (else NOT_FOUND) and is free to join <paramref name="groupId"/>: in a
    /// group of its own or already in this one. One in another volume group is
    /// FAILED_PRECONDITION (a volume is in at most one group); so is one in a consistency group
    /// its StorageClass named, since taking it out would break that group's order silently.
    /// </summary>
    private void RequireJoinable(IEnumerable<string> volumeIds, string groupId)
    {
        foreach (var volumeId in volumeIds)
        {
            if (driver.State.FindVolume(volumeId) is null || driver.Engine.FindVolume(volumeId) is not { } volume)
            {
                throw new RpcException(StatusCode.NotFound, $"volume '{volumeId}' does not exist");
            }
            if (volume.ConsistencyGroup is { } other && other != groupId)
            {
                throw new RpcException(StatusCode.FailedPrecondition, driver.State.FindVolumeGroup(other) is null
                    ? $"volume '{volumeId}' is in consistency group '{other}' (its {VolumeParameters.ConsistencyGroup} parameter); only a volume in a group of its own can join a volume group"
                    : $"volume '{volumeId}' is already in volume group '{other}'; a volume is in at most one volume group: remove it from '{other}' first");
            }
        }
    }

    /// <summary>The listed ids, each once, in order; an empty id is INVALID_ARGUMENT.</summary>
    private static List<string> RequireVolumeIds(RepeatedField<string> volumeIds)
    {
        if (volumeIds.Any(string.IsNullOrEmpty))
        {
            throw new RpcException(StatusCode.InvalidArgument, "volume_ids must not contain an empty id");
        }
        return volumeIds.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
    }

    private List<VolumeRecord> Members(string groupId) => Membership()[groupId].ToList();

    /// <summary>The volumes of every named consistency group, by group, in id order: read from the
    /// engine, which records each volume's group durably in its catalog.</summary>
    private ILookup<string, VolumeRecord> Membership()
    {
        var groupOf = driver.Engine.Volumes
            .Where(v => v.ConsistencyGroup is not null)
            .ToDictionary(v => v.Id, v => v.ConsistencyGroup!, StringComparer.Ordinal);
        return driver.State.ListVolumes()
            .Where(r => groupOf.ContainsKey(r.Id))
            .ToLookup(r => groupOf[r.Id], StringComparer.Ordinal);
    }

    /// <summary>Operation locks on several volumes, all or none: a volume busy in another call
    /// makes this one ABORTED, holding none of them.</summary>
    private sealed class VolumeLocks : IDisposable
    {
        private readonly List<OperationLocks.Releaser> _held = [];

        public static VolumeLocks Acquire(OperationLocks locks, IEnumerable<string> volumeIds)
        {
            var acquired = new VolumeLocks();
            try
            {
                foreach (var volumeId in volumeIds)
                {
                    acquired._held.Add(locks.Acquire("volume", volumeId));
                }
                return acquired;
            }
            catch
            {
                acquired.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            _held.ForEach(r => r.Dispose());
            _held.Clear();
        }
    }
}
