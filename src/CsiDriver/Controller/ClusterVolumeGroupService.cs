using CsiAddons.VolumeGroup;
using CsiDriver.Csi;
using CsiDriver.Rpc;
using Formation.NodeLink.V1;

namespace CsiDriver.Controller;

/// <summary>
/// csi-addons volumegroup.Controller for the whole cluster. A volume group is a consistency
/// group, so it lives on one node with all its volumes: a create listing volumes of several
/// nodes is FAILED_PRECONDITION ("volumes cannot be grouped together"), a membership change
/// bringing in a volume of another node INVALID_ARGUMENT ("volume incompatible"), both naming
/// the nodes. An empty group goes to the node with the most free capacity.
/// </summary>
public sealed class ClusterVolumeGroupService(NodeRouter router, Placement placement, OperationLocks locks)
{
    public ServiceBinding Binding() =>
        new ServiceBinding(VolumegroupReflection.Descriptor.Services.Single(s => s.Name == "Controller"))
            .Unary<CreateVolumeGroupRequest, CreateVolumeGroupResponse>("CreateVolumeGroup", CreateVolumeGroup)
            .Unary<ModifyVolumeGroupMembershipRequest, ModifyVolumeGroupMembershipResponse>("ModifyVolumeGroupMembership", ModifyVolumeGroupMembership)
            .Unary("DeleteVolumeGroup", router.ToOwner<DeleteVolumeGroupRequest, DeleteVolumeGroupResponse>(ObjectKind.VolumeGroup, r => r.VolumeGroupId, "volume_group_id"))
            .Unary<ListVolumeGroupsRequest, ListVolumeGroupsResponse>("ListVolumeGroups", ListVolumeGroups)
            .Unary("ControllerGetVolumeGroup", router.ToOwner<ControllerGetVolumeGroupRequest, ControllerGetVolumeGroupResponse>(ObjectKind.VolumeGroup, r => r.VolumeGroupId, "volume_group_id"));

    private async Task<CreateVolumeGroupResponse> CreateVolumeGroup(CreateVolumeGroupRequest request, CallContext context)
    {
        RequestFields.Require(request.Name, "name");
        using var _ = locks.Acquire("volume group name", request.Name);
        RegisteredNode node;
        if (request.VolumeIds.Count > 0)
        {
            node = await router.OneNodeAsync(ObjectKind.Volume, request.VolumeIds, StatusCode.FailedPrecondition,
                $"volume group '{request.Name}'", context).ConfigureAwait(false);
        }
        else
        {
            var candidates = placement.Candidates(null);
            node = (await router.FindAsync(ObjectKind.VolumeGroup, null, request.Name, candidates, context).ConfigureAwait(false))?.Node
                ?? placement.Choose(candidates, 0, $"volume group '{request.Name}'");
        }
        return await router.ForwardAsync<CreateVolumeGroupRequest, CreateVolumeGroupResponse>(node, request, context).ConfigureAwait(false);
    }

    private async Task<ModifyVolumeGroupMembershipResponse> ModifyVolumeGroupMembership(ModifyVolumeGroupMembershipRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeGroupId, "volume_group_id");
        if (await router.LocateAsync(ObjectKind.VolumeGroup, request.VolumeGroupId, context).ConfigureAwait(false) is not { } node)
        {
            return await router.ForwardAsync<ModifyVolumeGroupMembershipRequest, ModifyVolumeGroupMembershipResponse>(router.AnyUp(), request, context).ConfigureAwait(false);
        }
        foreach (var volumeId in request.VolumeIds.Where(id => id.Length > 0))
        {
            if (await router.LocateAsync(ObjectKind.Volume, volumeId, context).ConfigureAwait(false) is { } volumeNode && volumeNode != node)
            {
                throw new RpcException(StatusCode.InvalidArgument,
                    $"volume '{volumeId}' lives on {volumeNode} and volume group '{request.VolumeGroupId}' on {node}: a volume group lives on one node with all its volumes");
            }
        }
        return await router.ForwardAsync<ModifyVolumeGroupMembershipRequest, ModifyVolumeGroupMembershipResponse>(node, request, context).ConfigureAwait(false);
    }

    private async Task<ListVolumeGroupsResponse> ListVolumeGroups(ListVolumeGroupsRequest request, CallContext context)
    {
        var (page, next) = await router.PageAcrossNodesAsync<ListVolumeGroupsRequest, ListVolumeGroupsResponse, ListVolumeGroupsResponse.Types.Entry>(
            r => r.Entries, e => e.VolumeGroup.VolumeGroupId, request.MaxEntries, request.StartingToken, context).ConfigureAwait(false);
        return new ListVolumeGroupsResponse { Entries = { page }, NextToken = next };
    }
}
