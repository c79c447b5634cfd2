using Csi.V1;
using CsiDriver.Csi;
using CsiDriver.Rpc;
using CsiDriver.State;
using Type = Csi.V1.NodeServiceCapability.Types.RPC.Types.Type;

namespace CsiDriver.Node;

/// <summary>
/// csi.v1.Node on the real data path: a staged volume is a loop device bound to a file that
/// csidriver serves from the engine over FUSE (<see cref="VolumeAttacher"/>). Split by concern:
/// staging (.Stage), publishing into pods (.Publish), statistics and growth (.Stats).
/// </summary>
public sealed partial class NodeService(Driver driver, NodePaths paths, VolumeAttacher attacher)
{
    private static readonly Type[] Capabilities =
    [
        Type.StageUnstageVolume,
        Type.GetVolumeStats,
        Type.ExpandVolume,
        Type.VolumeCondition,
        Type.SingleNodeMultiWriter,
    ];

    public ServiceBinding Binding() =>
        new ServiceBinding(CsiReflection.Descriptor.Services.Single(s => s.Name == "Node")) { TranslateException = NodeErrors.Translate }
            .Unary<NodeStageVolumeRequest, NodeStageVolumeResponse>("NodeStageVolume", NodeStageVolume)
            .Unary<NodeUnstageVolumeRequest, NodeUnstageVolumeResponse>("NodeUnstageVolume", NodeUnstageVolume)
            .Unary<NodePublishVolumeRequest, NodePublishVolumeResponse>("NodePublishVolume", NodePublishVolume)
            .Unary<NodeUnpublishVolumeRequest, NodeUnpublishVolumeResponse>("NodeUnpublishVolume", NodeUnpublishVolume)
            .Unary<NodeGetVolumeStatsRequest, NodeGetVolumeStatsResponse>("NodeGetVolumeStats", NodeGetVolumeStats)
            .Unary<NodeExpandVolumeRequest, NodeExpandVolumeResponse>("NodeExpandVolume", NodeExpandVolume)
            .Unary<NodeGetCapabilitiesRequest, NodeGetCapabilitiesResponse>("NodeGetCapabilities", NodeGetCapabilities)
            .Unary<NodeGetInfoRequest, NodeGetInfoResponse>("NodeGetInfo", NodeGetInfo);

    private static Task<NodeGetCapabilitiesResponse> NodeGetCapabilities(NodeGetCapabilitiesRequest request, CallContext context)
    {
        var response = new NodeGetCapabilitiesResponse();
        foreach (var type in Capabilities)
        {
            response.Capabilities.Add(new NodeServiceCapability { Rpc = new NodeServiceCapability.Types.RPC { Type = type } });
        }
        return Task.FromResult(response);
    }

    private Task<NodeGetInfoResponse> NodeGetInfo(NodeGetInfoRequest request, CallContext context) =>
        Task.FromResult(new NodeGetInfoResponse
        {
            NodeId = driver.Options.NodeId,
            MaxVolumesPerNode = driver.Options.MaxVolumesPerNode,
            AccessibleTopology = CsiVolumes.NodeTopology(driver.Options.NodeId),
        });

    private VolumeRecord RequireVolume(string volumeId) =>
        driver.State.FindVolume(volumeId)
        ?? throw new RpcException(StatusCode.NotFound, $"volume '{volumeId}' does not exist on this node");

    private static Attachment AttachmentOf(StagingRecord staging) => new(staging.Device, staging.FuseDirectory);

    private AttachmentCondition Condition(StagingRecord staging) => attacher.Condition(AttachmentOf(staging));
}
