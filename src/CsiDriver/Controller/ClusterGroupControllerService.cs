using Csi.V1;
using CsiDriver.Csi;
using CsiDriver.Rpc;
using Formation.NodeLink.V1;

namespace CsiDriver.Controller;

/// <summary>
/// csi.v1.GroupController for the whole cluster. A group snapshot is one cut in one node's
/// engine, so its source volumes must all live on one node: volumes on several nodes are
/// FAILED_PRECONDITION (the spec's "cannot snapshot multiple volumes together") naming the
/// nodes and their volumes.
/// </summary>
public sealed class ClusterGroupControllerService(NodeRouter router, OperationLocks locks)
{
    public ServiceBinding Binding() =>
        new ServiceBinding(CsiReflection.Descriptor.Services.Single(s => s.Name == "GroupController"))
            .Unary<GroupControllerGetCapabilitiesRequest, GroupControllerGetCapabilitiesResponse>("GroupControllerGetCapabilities", GroupControllerService.GetCapabilities)
            .Unary<CreateVolumeGroupSnapshotRequest, CreateVolumeGroupSnapshotResponse>("CreateVolumeGroupSnapshot", Create)
            .Unary("DeleteVolumeGroupSnapshot", router.ToOwner<DeleteVolumeGroupSnapshotRequest, DeleteVolumeGroupSnapshotResponse>(ObjectKind.GroupSnapshot, r => r.GroupSnapshotId, "group_snapshot_id"))
            .Unary("GetVolumeGroupSnapshot", router.ToOwner<GetVolumeGroupSnapshotRequest, GetVolumeGroupSnapshotResponse>(ObjectKind.GroupSnapshot, r => r.GroupSnapshotId, "group_snapshot_id"));

    private async Task<CreateVolumeGroupSnapshotResponse> Create(CreateVolumeGroupSnapshotRequest request, CallContext context)
    {
        RequestFields.RequireName(request.Name, "name");
        if (request.SourceVolumeIds.Count == 0 || request.SourceVolumeIds.Any(string.IsNullOrEmpty))
        {
            throw new RpcException(StatusCode.InvalidArgument, "source_volume_ids is required and may not hold empty ids");
        }
        using var _ = locks.Acquire("group snapshot name", request.Name);
        var node = await router.OneNodeAsync(ObjectKind.Volume, request.SourceVolumeIds, StatusCode.FailedPrecondition,
            $"group snapshot '{request.Name}'", context).ConfigureAwait(false);
        return await router.ForwardAsync<CreateVolumeGroupSnapshotRequest, CreateVolumeGroupSnapshotResponse>(node, request, context).ConfigureAwait(false);
    }
}
