using Csi.V1;
using CsiDriver.Rpc;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>Typed Identity and Controller calls over the driver's CSI socket, each with a
/// deadline so a hung driver fails a test instead of stalling the run. With a
/// <paramref name="controllerSocketPath"/> (split mode, as csi-sanity's --csi.controllerendpoint)
/// the Controller, GroupController and SnapshotMetadata calls go there (as the sidecars make
/// them), Identity and Node ones to the node.</summary>
public sealed class CsiClient(string socketPath, string? controllerSocketPath = null) : IDisposable
{
    private static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(20);
    private static readonly ServiceDescriptor IdentityService = Service("Identity");
    private static readonly ServiceDescriptor ControllerService = Service("Controller");
    private static readonly ServiceDescriptor NodeService = Service("Node");
    private static readonly ServiceDescriptor GroupControllerService = Service("GroupController");
    private static readonly ServiceDescriptor SnapshotMetadataService = Service("SnapshotMetadata");
    private static readonly TimeSpan NodeDeadline = TimeSpan.FromSeconds(90);

    private readonly GrpcClient _grpc = GrpcClient.ForUnixSocket(socketPath);
    private readonly GrpcClient? _controller = controllerSocketPath is null ? null : GrpcClient.ForUnixSocket(controllerSocketPath);

    public GrpcClient Grpc => _grpc;

    public Task<GetPluginInfoResponse> GetPluginInfo() =>
        Identity<GetPluginInfoRequest, GetPluginInfoResponse>("GetPluginInfo", new());

    public Task<GetPluginCapabilitiesResponse> GetPluginCapabilities() =>
        Identity<GetPluginCapabilitiesRequest, GetPluginCapabilitiesResponse>("GetPluginCapabilities", new());

    public Task<ProbeResponse> Probe(TimeSpan? deadline = null) =>
        Call<ProbeRequest, ProbeResponse>(IdentityService, "Probe", new(), deadline);

    public Task<CreateVolumeResponse> CreateVolume(CreateVolumeRequest request) =>
        Controller<CreateVolumeRequest, CreateVolumeResponse>("CreateVolume", request);

    public Task<DeleteVolumeResponse> DeleteVolume(DeleteVolumeRequest request) =>
        Controller<DeleteVolumeRequest, DeleteVolumeResponse>("DeleteVolume", request);

    public Task<DeleteVolumeResponse> DeleteVolume(string volumeId) => DeleteVolume(new DeleteVolumeRequest { VolumeId = volumeId });

    public Task<ControllerPublishVolumeResponse> ControllerPublishVolume(ControllerPublishVolumeRequest request) =>
        Controller<ControllerPublishVolumeRequest, ControllerPublishVolumeResponse>("ControllerPublishVolume", request);

    public Task<ControllerUnpublishVolumeResponse> ControllerUnpublishVolume(ControllerUnpublishVolumeRequest request) =>
        Controller<ControllerUnpublishVolumeRequest, ControllerUnpublishVolumeResponse>("ControllerUnpublishVolume", request);

    public Task<ValidateVolumeCapabilitiesResponse> ValidateVolumeCapabilities(ValidateVolumeCapabilitiesRequest request) =>
        Controller<ValidateVolumeCapabilitiesRequest, ValidateVolumeCapabilitiesResponse>("ValidateVolumeCapabilities", request);

    public Task<ListVolumesResponse> ListVolumes(ListVolumesRequest request) =>
        Controller<ListVolumesRequest, ListVolumesResponse>("ListVolumes", request);

    public Task<GetCapacityResponse> GetCapacity(GetCapacityRequest request) =>
        Controller<GetCapacityRequest, GetCapacityResponse>("GetCapacity", request);

    public Task<ControllerGetCapabilitiesResponse> ControllerGetCapabilities() =>
        Controller<ControllerGetCapabilitiesRequest, ControllerGetCapabilitiesResponse>("ControllerGetCapabilities", new());

    public Task<CreateSnapshotResponse> CreateSnapshot(CreateSnapshotRequest request) =>
        Controller<CreateSnapshotRequest, CreateSnapshotResponse>("CreateSnapshot", request);

    public Task<DeleteSnapshotResponse> DeleteSnapshot(string snapshotId) =>
        Controller<DeleteSnapshotRequest, DeleteSnapshotResponse>("DeleteSnapshot", new() { SnapshotId = snapshotId });

    public Task<ListSnapshotsResponse> ListSnapshots(ListSnapshotsRequest request) =>
        Controller<ListSnapshotsRequest, ListSnapshotsResponse>("ListSnapshots", request);

    public Task<GetSnapshotResponse> GetSnapshot(string snapshotId) =>
        Controller<GetSnapshotRequest, GetSnapshotResponse>("GetSnapshot", new() { SnapshotId = snapshotId });

    public Task<ControllerExpandVolumeResponse> ControllerExpandVolume(ControllerExpandVolumeRequest request) =>
        Controller<ControllerExpandVolumeRequest, ControllerExpandVolumeResponse>("ControllerExpandVolume", request);

    public Task<ControllerGetVolumeResponse> ControllerGetVolume(string volumeId) =>
        Controller<ControllerGetVolumeRequest, ControllerGetVolumeResponse>("ControllerGetVolume", new() { VolumeId = volumeId });

    public Task<ControllerModifyVolumeResponse> ControllerModifyVolume(ControllerModifyVolumeRequest request) =>
        Controller<ControllerModifyVolumeRequest, ControllerModifyVolumeResponse>("ControllerModifyVolume", request);

    public Task<NodeStageVolumeResponse> NodeStageVolume(NodeStageVolumeRequest request) => Node<NodeStageVolumeRequest, NodeStageVolumeResponse>("NodeStageVolume", request);

    public Task<NodeUnstageVolumeResponse> NodeUnstageVolume(NodeUnstageVolumeRequest request) => Node<NodeUnstageVolumeRequest, NodeUnstageVolumeResponse>("NodeUnstageVolume", request);

    public Task<NodePublishVolumeResponse> NodePublishVolume(NodePublishVolumeRequest request) => Node<NodePublishVolumeRequest, NodePublishVolumeResponse>("NodePublishVolume", request);

    public Task<NodeUnpublishVolumeResponse> NodeUnpublishVolume(NodeUnpublishVolumeRequest request) => Node<NodeUnpublishVolumeRequest, NodeUnpublishVolumeResponse>("NodeUnpublishVolume", request);

    public Task<NodeGetVolumeStatsResponse> NodeGetVolumeStats(NodeGetVolumeStatsRequest request) => Node<NodeGetVolumeStatsRequest, NodeGetVolumeStatsResponse>("NodeGetVolumeStats", request);

    public Task<NodeExpandVolumeResponse> NodeExpandVolume(NodeExpandVolumeRequest request) => Node<NodeExpandVolumeRequest, NodeExpandVolumeResponse>("NodeExpandVolume", request);

    public Task<NodeGetCapabilitiesResponse> NodeGetCapabilities() => Node<NodeGetCapabilitiesRequest, NodeGetCapabilitiesResponse>("NodeGetCapabilities", new());

    public Task<NodeGetInfoResponse> NodeGetInfo() => Node<NodeGetInfoRequest, NodeGetInfoResponse>("NodeGetInfo", new());

    public Task<GroupControllerGetCapabilitiesResponse> GroupControllerGetCapabilities() =>
        Call<GroupControllerGetCapabilitiesRequest, GroupControllerGetCapabilitiesResponse>(GroupControllerService, "GroupControllerGetCapabilities", new());

    public Task<CreateVolumeGroupSnapshotResponse> CreateVolumeGroupSnapshot(CreateVolumeGroupSnapshotRequest request) =>
        Call<CreateVolumeGroupSnapshotRequest, CreateVolumeGroupSnapshotResponse>(GroupControllerService, "CreateVolumeGroupSnapshot", request);

    public Task<DeleteVolumeGroupSnapshotResponse> DeleteVolumeGroupSnapshot(DeleteVolumeGroupSnapshotRequest request) =>
        Call<DeleteVolumeGroupSnapshotRequest, DeleteVolumeGroupSnapshotResponse>(GroupControllerService, "DeleteVolumeGroupSnapshot", request);

    public Task<GetVolumeGroupSnapshotResponse> GetVolumeGroupSnapshot(GetVolumeGroupSnapshotRequest request) =>
        Call<GetVolumeGroupSnapshotRequest, GetVolumeGroupSnapshotResponse>(GroupControllerService, "GetVolumeGroupSnapshot", request);

    /// <summary>Every message of the GetMetadataAllocated stream.</summary>
    public Task<List<GetMetadataAllocatedResponse>> GetMetadataAllocated(GetMetadataAllocatedRequest request) =>
        Stream<GetMetadataAllocatedRequest, GetMetadataAllocatedResponse>(SnapshotMetadataService, "GetMetadataAllocated", request);

    /// <summary>Every message of the GetMetadataDelta stream.</summary>
    public Task<List<GetMetadataDeltaResponse>> GetMetadataDelta(GetMetadataDeltaRequest request) =>
        Stream<GetMetadataDeltaRequest, GetMetadataDeltaResponse>(SnapshotMetadataService, "GetMetadataDelta", request);

    public void Dispose()
    {
        _grpc.Dispose();
        _controller?.Dispose();
    }

    private async Task<List<TResponse>> Stream<TRequest, TResponse>(ServiceDescriptor service, string method, TRequest request)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new()
    {
        var responses = new List<TResponse>();
        var call = (_controller ?? _grpc).ServerStreamingAsync<TRequest, TResponse>(
            service.FindMethodByName(method) ?? throw new ArgumentException($"{service.FullName} has no method {method}"),
            request,
            new CallOptions { Timeout = DefaultDeadline });
        await foreach (var response in call)
        {
            responses.Add(response);
        }
        return responses;
    }

    private static ServiceDescriptor Service(string name) =>
        CsiReflection.Descriptor.Services.Single(service => service.Name == name);

    private Task<TResponse> Identity<TRequest, TResponse>(string method, TRequest request)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new() =>
        Call<TRequest, TResponse>(IdentityService, method, request);

    private Task<TResponse> Controller<TRequest, TResponse>(string method, TRequest request)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new() =>
        Call<TRequest, TResponse>(ControllerService, method, request);

    /// <summary>Node calls attach devices and make file systems: they get a longer deadline.</summary>
    private Task<TResponse> Node<TRequest, TResponse>(string method, TRequest request)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new() =>
        Call<TRequest, TResponse>(NodeService, method, request, NodeDeadline);

    private Task<TResponse> Call<TRequest, TResponse>(ServiceDescriptor service, string method, TRequest request, TimeSpan? deadline = null)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new() =>
        (service == ControllerService || service == GroupControllerService ? _controller ?? _grpc : _grpc).UnaryAsync<TRequest, TResponse>(
            service.FindMethodByName(method) ?? throw new ArgumentException($"{service.FullName} has no method {method}"),
            request,
            new CallOptions { Timeout = deadline ?? DefaultDeadline });
}
