using Csi.V1;
using CsiDriver.Hosting;
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
public sealed partial class ControllerService(Driver driver)
{
    private static readonly Type[] Capabilities =
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
        new ServiceBinding(CsiReflection.Descriptor.Services.Single(s => s.Name == "Controller"))
            .Unary<CreateVolumeRequest, CreateVolumeResponse>("CreateVolume", EngineErrors.Mapped<CreateVolumeRequest, CreateVolumeResponse>(CreateVolume))
            .Unary<DeleteVolumeRequest, DeleteVolumeResponse>("DeleteVolume", EngineErrors.Mapped<DeleteVolumeRequest, DeleteVolumeResponse>(DeleteVolume))
            .Unary<ControllerPublishVolumeRequest, ControllerPublishVolumeResponse>("ControllerPublishVolume", EngineErrors.Mapped<ControllerPublishVolumeRequest, ControllerPublishVolumeResponse>(ControllerPublishVolume))
            .Unary<ControllerUnpublishVolumeRequest, ControllerUnpublishVolumeResponse>("ControllerUnpublishVolume", EngineErrors.Mapped<ControllerUnpublishVolumeRequest, ControllerUnpublishVolumeResponse>(ControllerUnpublishVolume))
            .Unary<ValidateVolumeCapabilitiesRequest, ValidateVolumeCapabilitiesResponse>("ValidateVolumeCapabilities", EngineErrors.Mapped<ValidateVolumeCapabilitiesRequest, ValidateVolumeCapabilitiesResponse>(ValidateVolumeCapabilities))
            .Unary<ListVolumesRequest, ListVolumesResponse>("ListVolumes", EngineErrors.Mapped<ListVolumesRequest, ListVolumesResponse>(ListVolumes))
            .Unary<GetCapacityRequest, GetCapacityResponse>("GetCapacity", EngineErrors.Mapped<GetCapacityRequest, GetCapacityResponse>(GetCapacity))
            .Unary<ControllerGetCapabilitiesRequest, ControllerGetCapabilitiesResponse>("ControllerGetCapabilities", ControllerGetCapabilities)
            .Unary<CreateSnapshotRequest, CreateSnapshotResponse>("CreateSnapshot", EngineErrors.Mapped<CreateSnapshotRequest, CreateSnapshotResponse>(CreateSnapshot))
            .Unary<DeleteSnapshotRequest, DeleteSnapshotResponse>("DeleteSnapshot", EngineErrors.Mapped<DeleteSnapshotRequest, DeleteSnapshotResponse>(DeleteSnapshot))
            .Unary<ListSnapshotsRequest, ListSnapshotsResponse>("ListSnapshots", EngineErrors.Mapped<ListSnapshotsRequest, ListSnapshotsResponse>(ListSnapshots))
            .Unary<GetSnapshotRequest, GetSnapshotResponse>("GetSnapshot", EngineErrors.Mapped<GetSnapshotRequest, GetSnapshotResponse>(GetSnapshot))
            .Unary<ControllerExpandVolumeRequest, ControllerExpandVolumeResponse>("ControllerExpandVolume", EngineErrors.Mapped<ControllerExpandVolumeRequest, ControllerExpandVolumeResponse>(ControllerExpandVolume))
            .Unary<ControllerGetVolumeRequest, ControllerGetVolumeResponse>("ControllerGetVolume", EngineErrors.Mapped<ControllerGetVolumeRequest, ControllerGetVolumeResponse>(ControllerGetVolume))
            .Unary<ControllerModifyVolumeRequest, ControllerModifyVolumeResponse>("ControllerModifyVolume", EngineErrors.Mapped<ControllerModifyVolumeRequest, ControllerModifyVolumeResponse>(ControllerModifyVolume));

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
