using CsiAddons.VolumeGroup;
using CsiDriver.Rpc;
using CsiDriver.State;
using AddonsVolumeGroup = CsiAddons.VolumeGroup.VolumeGroup;

namespace CsiDriver.Csi;

/// <summary>
/// csi-addons volumegroup.Controller on --csiaddons-endpoint (csi-addons spec,
/// volumegroup/README.md). A volume group IS an engine consistency group named after its id:
/// its volumes share one journal and one sequence, so they are replicated and snapshotted in
/// one order. A volume is in at most one group (LIMIT_VOLUME_TO_ONE_VOLUME_GROUP); deleting a
/// group never deletes its volumes (DO_NOT_ALLOW_VG_TO_DELETE_VOLUMES), so a group that still
/// has volumes is refused. Membership is read from the engine, so a volume created with the
/// CSI parameter consistencyGroup set to a group's id is a member like any other.
/// Membership changes are in .Membership.
/// </summary>
public sealed partial class VolumeGroupService(Driver driver)
{
    public ServiceBinding Binding() =>
        new ServiceBinding(VolumegroupReflection.Descriptor.Services.Single(s => s.Name == "Controller")) { TranslateException = EngineErrors.Translate }
            .Unary<CreateVolumeGroupRequest, CreateVolumeGroupResponse>("CreateVolumeGroup", CreateVolumeGroup)
            .Unary<ModifyVolumeGroupMembershipRequest, ModifyVolumeGroupMembershipResponse>("ModifyVolumeGroupMembership", ModifyVolumeGroupMembership)
            .Unary<DeleteVolumeGroupRequest, DeleteVolumeGroupResponse>("DeleteVolumeGroup", DeleteVolumeGroup)
            .Unary<ListVolumeGroupsRequest, ListVolumeGroupsResponse>("ListVolumeGroups", ListVolumeGroups)
            .Unary<ControllerGetVolumeGroupRequest, ControllerGetVolumeGroupResponse>("ControllerGetVolumeGroup", ControllerGetVolumeGroup);

    /// <summary>
    /// Idempotent by name: the same name with the same parameters and volumes returns the
    /// existing group; with other parameters or another volume list it is ALREADY_EXISTS. A
    /// repeat of a create that was interrupted before all its volumes moved in finishes it.
    /// </summary>
    private Task<CreateVolumeGroupResponse> CreateVolumeGroup(CreateVolumeGroupRequest request, CallContext context)
    {
        RequestFields.Require(request.Name, "name");
        // Not supported parameters are INVALID_ARGUMENT (spec: CreateVolumeGroup Errors).
        VolumeParameters.RequireKnown(request.Parameters, [], "parameters");
        var volumeIds = RequireVolumeIds(request.VolumeIds);
        using var _ = driver.Locks.Acquire("volume group name", request.Name);
        if (driver.State.FindVolumeGroupByName(request.Name) is { } existing)
        {
            using var groupLock = driver.Locks.Acquire("volume group", existing.Id);
            if (!RequestFields.SameEntries(existing.Parameters, request.Parameters))
            {
                throw new RpcException(StatusCode.AlreadyExists, $"volume group '{request.Name}' exists with other parameters");
            }
            var had = existing.PendingVolumeIds ?? Members(existing.Id).Select(v => v.Id).ToList();
            if (!had.ToHashSet(StringComparer.Ordinal).SetEquals(volumeIds))
            {
                throw new RpcException(StatusCode.AlreadyExists,
                    $"volume group '{request.Name}' exists with volumes [{string.Join(", ", had.Order(StringComparer.Ordinal))}], not [{string.Join(", ", volumeIds)}]");
            }
            if (existing.PendingVolumeIds is not null)
            {
                MoveInCreated(existing, isNew: false);
            }
            return Task.FromResult(new CreateVolumeGroupResponse { VolumeGroup = ToAddons(existing.Id) });
        }

        var record = new VolumeGroupRecord(
            driver.NewId("vg"),
            request.Name,
            new Dictionary<string, string>(request.Parameters),
            volumeIds.Count == 0 ? null : volumeIds,
            driver.Clock.GetUtcNow());
        MoveInCreated(record, isNew: true);
        return Task.FromResult(new CreateVolumeGroupResponse { VolumeGroup = ToAddons(record.Id) });
    }

    /// <summary>Deleting a group that is gone succeeds. The volumes of a group are never
    /// deleted with it, so a group that still has volumes is FAILED_PRECONDITION ("volume
    /// group in use"): the CO empties it with ModifyVolumeGroupMembership first.</summary>
    private Task<DeleteVolumeGroupResponse> DeleteVolumeGroup(DeleteVolumeGroupRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeGroupId, "volume_group_id");
        using var _ = driver.Locks.Acquire("volume group", request.VolumeGroupId);
        if (driver.State.FindVolumeGroup(request.VolumeGroupId) is null)
        {
            return Task.FromResult(new DeleteVolumeGroupResponse());
        }
        if (Members(request.VolumeGroupId) is { Count: > 0 } members)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"volume group '{request.VolumeGroupId}' still has volumes [{string.Join(", ", members.Select(v => v.Id))}]; "
                + "deleting a group does not delete its volumes: remove them with ModifyVolumeGroupMembership first");
        }
        driver.State.DeleteVolumeGroup(request.VolumeGroupId);
        return Task.FromResult(new DeleteVolumeGroupResponse());
    }

    private Task<ControllerGetVolumeGroupResponse> ControllerGetVolumeGroup(ControllerGetVolumeGroupRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeGroupId, "volume_group_id");
        var group = RequireGroup(request.VolumeGroupId);
        return Task.FromResult(new ControllerGetVolumeGroupResponse { VolumeGroup = ToAddons(group.Id) });
    }

    /// <summary>Pages through the groups in id order; a token not from ListVolumeGroups is ABORTED.</summary>
    private Task<ListVolumeGroupsResponse> ListVolumeGroups(ListVolumeGroupsRequest request, CallContext context)
    {
        var (page, next) = Pages.Take(driver.State.ListVolumeGroups(), g => g.Id, request.MaxEntries, request.StartingToken, "ListVolumeGroups");
        var membership = Membership();
        var response = new ListVolumeGroupsResponse { NextToken = next };
        response.Entries.AddRange(page.Select(g => new ListVolumeGroupsResponse.Types.Entry { VolumeGroup = ToAddons(g.Id, membership[g.Id]) }));
        return Task.FromResult(response);
    }

    private AddonsVolumeGroup ToAddons(string groupId) => ToAddons(groupId, Members(groupId));

    private AddonsVolumeGroup ToAddons(string groupId, IEnumerable<VolumeRecord> members) => new()
    {
        VolumeGroupId = groupId,
        Volumes = { members.Select(v => CsiVolumes.From(v, driver.Options.NodeId)) },
    };

    private VolumeGroupRecord RequireGroup(string groupId) =>
        driver.State.FindVolumeGroup(groupId)
        ?? throw new RpcException(StatusCode.NotFound, $"volume group '{groupId}' does not exist");
}
