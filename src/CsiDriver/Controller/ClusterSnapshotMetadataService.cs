using Csi.V1;
using CsiDriver.Csi;
using CsiDriver.Rpc;
using Formation.NodeLink.V1;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace CsiDriver.Controller;

/// <summary>
/// csi.v1.SnapshotMetadata for the whole cluster, on the controller's socket where the
/// snapshot-metadata sidecar calls it: each call is relayed, message by message, to the node
/// whose engine holds the snapshot. A delta's two snapshots on different nodes cannot be of one
/// volume, so that is the INVALID_ARGUMENT a node gives for snapshots of different volumes.
/// </summary>
public sealed class ClusterSnapshotMetadataService(NodeRouter router)
{
    private static readonly ServiceDescriptor Service = CsiReflection.Descriptor.Services.Single(s => s.Name == "SnapshotMetadata");

    public ServiceBinding Binding() =>
        new ServiceBinding(Service)
            .ServerStreaming<GetMetadataAllocatedRequest, GetMetadataAllocatedResponse>("GetMetadataAllocated", GetMetadataAllocated)
            .ServerStreaming<GetMetadataDeltaRequest, GetMetadataDeltaResponse>("GetMetadataDelta", GetMetadataDelta);

    private async Task GetMetadataAllocated(GetMetadataAllocatedRequest request, IResponseStream<GetMetadataAllocatedResponse> responses, CallContext context)
    {
        RequestFields.Require(request.SnapshotId, "snapshot_id");
        var node = await router.LocateAsync(ObjectKind.Snapshot, request.SnapshotId, context).ConfigureAwait(false) ?? router.AnyUp();
        await Relay(node, "GetMetadataAllocated", request, responses, context).ConfigureAwait(false);
    }

    private async Task GetMetadataDelta(GetMetadataDeltaRequest request, IResponseStream<GetMetadataDeltaResponse> responses, CallContext context)
    {
        RequestFields.Require(request.BaseSnapshotId, "base_snapshot_id");
        RequestFields.Require(request.TargetSnapshotId, "target_snapshot_id");
        var node = await router.OneNodeAsync(ObjectKind.Snapshot, [request.BaseSnapshotId, request.TargetSnapshotId], StatusCode.InvalidArgument,
            $"the delta from snapshot '{request.BaseSnapshotId}' to '{request.TargetSnapshotId}'", context).ConfigureAwait(false);
        await Relay(node, "GetMetadataDelta", request, responses, context).ConfigureAwait(false);
    }

    private Task Relay<TRequest, TResponse>(RegisteredNode node, string method, TRequest request, IResponseStream<TResponse> responses, CallContext context)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new() =>
        router.RelayStreamAsync(node, Service.FindMethodByName(method), request, responses, context);
}
