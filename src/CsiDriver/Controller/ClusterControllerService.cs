using Csi.V1;
using CsiDriver.Csi;
using CsiDriver.Rpc;
using Formation.NodeLink.V1;
using Type = Csi.V1.ControllerServiceCapability.Types.RPC.Types.Type;

namespace CsiDriver.Controller;

/// <summary>
/// csi.v1.Controller for the whole cluster, served by `csidriver controller`. Each call goes to
/// the node whose engine owns its volume or snapshot (<see cref="NodeRouter"/>), which checks
/// it and answers as a standalone node would. What only the controller can decide is here:
/// where a new volume goes, lists over every node, and capacity per node. ControllerPublish is
/// not offered (attachRequired: false): a volume lives on one node and topology keeps its pods
/// there, so an attachment would only record what NodeStage on that node does not need.
/// </summary>
public sealed class ClusterControllerService(NodeRouter router, Placement placement, OperationLocks locks)
{
    private static readonly Type[] Capabilities = ControllerService.Capabilities
        .Except([Type.PublishUnpublishVolume, Type.PublishReadonly, Type.ListVolumesPublishedNodes])
        .ToArray();

    public ServiceBinding Binding() =>
        new ServiceBinding(CsiReflection.Descriptor.Services.Single(s => s.Name == "Controller"))
            .Unary<CreateVolumeRequest, CreateVolumeResponse>("CreateVolume", CreateVolume)
            .Unary("DeleteVolume", router.ToOwner<DeleteVolumeRequest, DeleteVolumeResponse>(ObjectKind.Volume, r => r.VolumeId, "volume_id"))
            .Unary("ValidateVolumeCapabilities", router.ToOwner<ValidateVolumeCapabilitiesRequest, ValidateVolumeCapabilitiesResponse>(ObjectKind.Volume, r => r.VolumeId, "volume_id"))
            .Unary<ListVolumesRequest, ListVolumesResponse>("ListVolumes", ListVolumes)
            .Unary<GetCapacityRequest, GetCapacityResponse>("GetCapacity", GetCapacity)
            .Unary<ControllerGetCapabilitiesRequest, ControllerGetCapabilitiesResponse>("ControllerGetCapabilities", GetCapabilities)
            .Unary("CreateSnapshot", router.ToOwner<CreateSnapshotRequest, CreateSnapshotResponse>(ObjectKind.Volume, r => r.SourceVolumeId, "source_volume_id"))
            .Unary("DeleteSnapshot", router.ToOwner<DeleteSnapshotRequest, DeleteSnapshotResponse>(ObjectKind.Snapshot, r => r.SnapshotId, "snapshot_id"))
            .Unary<ListSnapshotsRequest, ListSnapshotsResponse>("ListSnapshots", ListSnapshots)
            .Unary("GetSnapshot", router.ToOwner<GetSnapshotRequest, GetSnapshotResponse>(ObjectKind.Snapshot, r => r.SnapshotId, "snapshot_id"))
            .Unary("ControllerExpandVolume", router.ToOwner<ControllerExpandVolumeRequest, ControllerExpandVolumeResponse>(ObjectKind.Volume, r => r.VolumeId, "volume_id"))
            .Unary("ControllerGetVolume", router.ToOwner<ControllerGetVolumeRequest, ControllerGetVolumeResponse>(ObjectKind.Volume, r => r.VolumeId, "volume_id"))
            .Unary<ControllerModifyVolumeRequest, ControllerModifyVolumeResponse>("ControllerModifyVolume", ControllerModifyVolume);

    private static Task<ControllerGetCapabilitiesResponse> GetCapabilities(ControllerGetCapabilitiesRequest request, CallContext context) =>
        Task.FromResult(new ControllerGetCapabilitiesResponse
        {
            Capabilities = { Capabilities.Select(type => new ControllerServiceCapability { Rpc = new() { Type = type } }) },
        });

    /// <summary>
    /// Places the volume, then lets that node create it (idempotent by name there). A clone goes
    /// where its source is, a member of a consistency group where the group is; otherwise the
    /// accessibility requirements choose (<see cref="Placement"/>), after a volume of that name
    /// is looked for on every node they allow, so a repeated request finds the first one.
    /// </summary>
    private async Task<CreateVolumeResponse> CreateVolume(CreateVolumeRequest request, CallContext context)
    {
        RequestFields.RequireName(request.Name, "name");
        var group = VolumeParameters.GroupOf(request.Parameters, request.MutableParameters);
        using var nameLock = locks.Acquire("volume name", request.Name);
        // Two first members of one new group at once could otherwise land on two nodes.
        using var groupLock = group is null ? (OperationLocks.Releaser?)null : locks.Acquire("consistency group", group);
        var node = await PlaceVolumeAsync(request, group, context).ConfigureAwait(false);
        return await router.ForwardAsync<CreateVolumeRequest, CreateVolumeResponse>(node, request, context).ConfigureAwait(false);
    }

    private async Task<RegisteredNode> PlaceVolumeAsync(CreateVolumeRequest request, string? group, CallContext context)
    {
        var requirements = request.AccessibilityRequirements;
        var bound = new List<(RegisteredNode Node, string Why)>();
        if (SourceOf(request.VolumeContentSource) is var (kind, sourceId, what))
        {
            // A source no node has: that node answers NOT_FOUND for it.
            var sourceNode = await router.LocateAsync(kind, sourceId, context).ConfigureAwait(false);
            if (sourceNode is null)
            {
                return router.AnyUp();
            }
            bound.Add((sourceNode, $"its source {what} '{sourceId}'"));
        }
        if (group is not null && await router.LocateAsync(ObjectKind.ConsistencyGroup, group, context).ConfigureAwait(false) is { } groupNode)
        {
            bound.Add((groupNode, $"its consistency group '{group}'"));
        }
        if (bound.Select(b => b.Node).Distinct().Count() > 1)
        {
            throw new RpcException(StatusCode.InvalidArgument,
                $"volume '{request.Name}' cannot be created: {string.Join(", and ", bound.Select(b => $"{b.Why} lives on {b.Node}"))}; a clone lives with its source and a consistency group on one node");
        }
        if (bound.Count > 0)
        {
            var (node, why) = bound[0];
            if (!Placement.Allows(requirements, node))
            {
                throw new RpcException(StatusCode.ResourceExhausted,
                    $"volume '{request.Name}' must live on {node}, where {why} lives, and accessibility_requirements.requisite does not allow that node");
            }
            return node;
        }
        var candidates = placement.Candidates(requirements);
        if (await router.FindAsync(ObjectKind.Volume, null, request.Name, candidates, context).ConfigureAwait(false) is { } existing)
        {
            return existing.Node;
        }
        return placement.Choose(candidates, CapacityRules.SizeFor(request.CapacityRange), $"volume '{request.Name}'");
    }

    private static (ObjectKind Kind, string Id, string What)? SourceOf(VolumeContentSource? source) => source?.TypeCase switch
    {
        VolumeContentSource.TypeOneofCase.Snapshot => (ObjectKind.Snapshot, source.Snapshot.SnapshotId, "snapshot"),
        VolumeContentSource.TypeOneofCase.Volume => (ObjectKind.Volume, source.Volume.VolumeId, "volume"),
        _ => null,
    };

    /// <summary>A volume moving to a consistency group that lives on another node is refused:
    /// the group's journal is in that node's engine.</summary>
    private async Task<ControllerModifyVolumeResponse> ControllerModifyVolume(ControllerModifyVolumeRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeId, "volume_id");
        if (await router.LocateAsync(ObjectKind.Volume, request.VolumeId, context).ConfigureAwait(false) is not { } node)
        {
            return await router.ForwardAsync<ControllerModifyVolumeRequest, ControllerModifyVolumeResponse>(router.AnyUp(), request, context).ConfigureAwait(false);
        }
        if (VolumeParameters.GroupOf(new Dictionary<string, string>(), request.MutableParameters) is { } group
            && await router.LocateAsync(ObjectKind.ConsistencyGroup, group, context).ConfigureAwait(false) is { } groupNode
            && groupNode != node)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"volume '{request.VolumeId}' lives on {node} and consistency group '{group}' on {groupNode}: a consistency group lives on one node");
        }
        return await router.ForwardAsync<ControllerModifyVolumeRequest, ControllerModifyVolumeResponse>(node, request, context).ConfigureAwait(false);
    }

    /// <summary>Every node's volumes in one id order, paged here with the same tokens a node uses.</summary>
    private async Task<ListVolumesResponse> ListVolumes(ListVolumesRequest request, CallContext context)
    {
        var (page, next) = await router.PageAcrossNodesAsync<ListVolumesRequest, ListVolumesResponse, ListVolumesResponse.Types.Entry>(
            r => r.Entries, e => e.Volume.VolumeId, request.MaxEntries, request.StartingToken, context).ConfigureAwait(false);
        return new ListVolumesResponse { Entries = { page }, NextToken = next };
    }

    /// <summary>A filter by snapshot or source volume goes to that object's node (which pages
    /// itself); an unfiltered list is every node's, paged here.</summary>
    private async Task<ListSnapshotsResponse> ListSnapshots(ListSnapshotsRequest request, CallContext context)
    {
        if (request.SnapshotId.Length > 0)
        {
            return await router.ForwardToOwnerAsync<ListSnapshotsRequest, ListSnapshotsResponse>(ObjectKind.Snapshot, request.SnapshotId, request, context).ConfigureAwait(false);
        }
        if (request.SourceVolumeId.Length > 0)
        {
            return await router.ForwardToOwnerAsync<ListSnapshotsRequest, ListSnapshotsResponse>(ObjectKind.Volume, request.SourceVolumeId, request, context).ConfigureAwait(false);
        }
        var (page, next) = await router.PageAcrossNodesAsync<ListSnapshotsRequest, ListSnapshotsResponse, ListSnapshotsResponse.Types.Entry>(
            r => r.Entries, e => e.Snapshot.SnapshotId, request.MaxEntries, request.StartingToken, context).ConfigureAwait(false);
        return new ListSnapshotsResponse { Entries = { page }, NextToken = next };
    }

    /// <summary>
    /// Capacity per node, for CSIStorageCapacity: a topology names the node(s) to ask; without
    /// one, every node's is added up, and the largest volume is the largest any node can take.
    /// A node that is down has no capacity to offer (the scheduler then looks elsewhere).
    /// </summary>
    private async Task<GetCapacityResponse> GetCapacity(GetCapacityRequest request, CallContext context)
    {
        var matching = router.Registry.Known.Where(n => request.AccessibleTopology is null || n.Matches(request.AccessibleTopology.Segments)).ToList();
        var up = matching.Where(n => !router.Registry.IsDown(n)).ToList();
        if (up.Count == 0)
        {
            // No node to ask: any node checks the request and finds the topology is not its own;
            // with none registered at all that is UNAVAILABLE.
            return matching.Count == 0
                ? await router.ForwardAsync<GetCapacityRequest, GetCapacityResponse>(router.AnyUp(), request, context).ConfigureAwait(false)
                : new GetCapacityResponse { MinimumVolumeSize = CapacityRules.MinimumBytes };
        }
        var answers = await Task.WhenAll(up.Select(n => router.ForwardAsync<GetCapacityRequest, GetCapacityResponse>(n, request, context))).ConfigureAwait(false);
        return new GetCapacityResponse
        {
            AvailableCapacity = answers.Sum(a => a.AvailableCapacity),
            MaximumVolumeSize = answers.Max(a => a.MaximumVolumeSize),
            MinimumVolumeSize = CapacityRules.MinimumBytes,
        };
    }
}
