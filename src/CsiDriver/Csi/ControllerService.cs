using Csi.V1;
using CsiDriver.Rpc;
using CsiDriver.State;
using Type = Csi.V1.ControllerServiceCapability.Types.RPC.Types.Type;
using CsiVolume = Csi.V1.Volume;

namespace CsiDriver.Csi;

/// <summary>
/// csi.v1.Controller over the engine's volumes. Every handler checks its arguments first,
/// then takes the operation lock for the name or id, then acts. Split by concern:
/// volume lifecycle (.Volumes), attachment (.Publish), listing and capacity (.Listing),
/// snapshots (.Snapshots).
/// </summary>
/// <param name="volumeGrown">Called after a volume grew, so that a device attached for it on
/// this node shows the new size.</param>
public sealed partial class ControllerService(Driver driver, Action<string> volumeGrown)
{
    internal static readonly Type[] Capabilities =
    [
        Type.CreateDeleteVolume,
        Type.PublishUnpublishVolume,
        Type.ListVolumes,
        Type.GetCapacity,
        Type.ExpandVolume,
        Type.ListVolumesPublishedNodes,
        Type.VolumeCondition,
        Type.GetVolume,
        Type.SingleNodeMultiWriter,
        // readonly is honoured: the export is served read-only and the node mounts read-only.
        Type.PublishReadonly,
        Type.CreateDeleteSnapshot,
        Type.ListSnapshots,
        Type.GetSnapshot,
        Type.CloneVolume,
        Type.ModifyVolume,
    ];

    public ServiceBinding Binding() =>
        new ServiceBinding(CsiReflection.Descriptor.Services.Single(s => s.Name == "Controller")) { TranslateException = EngineErrors.Translate }
            .Unary<CreateVolumeRequest, CreateVolumeResponse>("CreateVolume", CreateVolume)
            .Unary<DeleteVolumeRequest, DeleteVolumeResponse>("DeleteVolume", DeleteVolume)
            .Unary<ControllerPublishVolumeRequest, ControllerPublishVolumeResponse>("ControllerPublishVolume", ControllerPublishVolume)
            .Unary<ControllerUnpublishVolumeRequest, ControllerUnpublishVolumeResponse>("ControllerUnpublishVolume", ControllerUnpublishVolume)
            .Unary<ValidateVolumeCapabilitiesRequest, ValidateVolumeCapabilitiesResponse>("ValidateVolumeCapabilities", ValidateVolumeCapabilities)
            .Unary<ListVolumesRequest, ListVolumesResponse>("ListVolumes", ListVolumes)
            .Unary<GetCapacityRequest, GetCapacityResponse>("GetCapacity", GetCapacity)
            .Unary<ControllerGetCapabilitiesRequest, ControllerGetCapabilitiesResponse>("ControllerGetCapabilities", ControllerGetCapabilities)
            .Unary<CreateSnapshotRequest, CreateSnapshotResponse>("CreateSnapshot", CreateSnapshot)
            .Unary<DeleteSnapshotRequest, DeleteSnapshotResponse>("DeleteSnapshot", DeleteSnapshot)
            .Unary<ListSnapshotsRequest, ListSnapshotsResponse>("ListSnapshots", ListSnapshots)
            .Unary<GetSnapshotRequest, GetSnapshotResponse>("GetSnapshot", GetSnapshot)
            .Unary<ControllerExpandVolumeRequest, ControllerExpandVolumeResponse>("ControllerExpandVolume", ControllerExpandVolume)
            .Unary<ControllerGetVolumeRequest, ControllerGetVolumeResponse>("ControllerGetVolume", ControllerGetVolume)
            .Unary<ControllerModifyVolumeRequest, ControllerModifyVolumeResponse>("ControllerModifyVolume", ControllerModifyVolume);

    private Task<ControllerGetCapabilitiesResponse> ControllerGetCapabilities(ControllerGetCapabilitiesRequest request, CallContext context)
    {
        var response = new ControllerGetCapabilitiesResponse();
        foreach (var type in Capabilities)
        {
            response.Capabilities.Add(new ControllerServiceCapability { Rpc = new ControllerServiceCapability.Types.RPC { Type = type } });
        }
        return Task.FromResult(response);
    }

    private CsiVolume ToCsi(VolumeRecord record) => CsiVolumes.From(record, driver.Options.NodeId);

    /// <summary>What the engine says of the volume's health, in CSI's terms.</summary>
    private VolumeCondition ConditionOf(VolumeRecord record) =>
        driver.Engine.FindVolume(record.Id) is null
            ? new VolumeCondition { Abnormal = true, Message = $"the engine has no data for volume '{record.Id}'" }
            : new VolumeCondition { Abnormal = false, Message = "volume is healthy" };

    private VolumeRecord RequireVolume(string volumeId) =>
        driver.State.FindVolume(volumeId)
        ?? throw new RpcException(StatusCode.NotFound, $"volume '{volumeId}' does not exist");
}
