using Csi.V1;
using CsiAddons.Replication;
using CsiAddons.VolumeGroup;
using CsiDriver.Rpc;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace CsiDriver.Demo;

/// <summary>
/// The demo's only way into a site: CSI calls on its CSI socket and csi-addons calls on its
/// csi-addons socket, as kubelet, the sidecars and the csi-addons operator make them.
/// </summary>
public sealed class SiteClient(SiteLayout layout) : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan NodeDeadline = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan NodeRetryPause = TimeSpan.FromMilliseconds(500);
    private const int NodeAttempts = 3;
    private static readonly ServiceDescriptor Identity = Csi("Identity");
    private static readonly ServiceDescriptor Controller = Csi("Controller");
    private static readonly ServiceDescriptor Node = Csi("Node");
    private static readonly ServiceDescriptor GroupController = Csi("GroupController");
    private static readonly ServiceDescriptor AddonsIdentity = CsiAddons.Identity.IdentityReflection.Descriptor.Services.Single(s => s.Name == "Identity");
    private static readonly ServiceDescriptor VolumeGroups = VolumegroupReflection.Descriptor.Services.Single(s => s.Name == "Controller");
    private static readonly ServiceDescriptor Replication = ReplicationReflection.Descriptor.Services.Single(s => s.Name == "Controller");

    private readonly GrpcClient _csi = GrpcClient.ForUnixSocket(layout.CsiSocket);
    private readonly GrpcClient _addons = GrpcClient.ForUnixSocket(layout.AddonsSocket);

    public Task<ProbeResponse> ProbeAsync() =>
        Call<ProbeRequest, ProbeResponse>(_csi, Identity, "Probe", new(), TimeSpan.FromSeconds(2));

    /// <summary>Whether the site's csi-addons identity advertises the VolumeReplication service.</summary>
    public async Task<bool> AdvertisesReplicationAsync()
    {
        var capabilities = await Call<CsiAddons.Identity.GetCapabilitiesRequest, CsiAddons.Identity.GetCapabilitiesResponse>(_addons, AddonsIdentity, "GetCapabilities", new());
        return capabilities.Capabilities.Any(c => c.VolumeReplication?.Type == CsiAddons.Identity.Capability.Types.VolumeReplication.Types.Type.VolumeReplication);
    }

    public Task<CreateVolumeGroupResponse> CreateVolumeGroupAsync(string name) =>
        Call<CreateVolumeGroupRequest, CreateVolumeGroupResponse>(_addons, VolumeGroups, "CreateVolumeGroup", new() { Name = name });

    public Task<CreateVolumeResponse> CreateVolumeAsync(CreateVolumeRequest request) =>
        Call<CreateVolumeRequest, CreateVolumeResponse>(_csi, Controller, "CreateVolume", request);

    public Task<DeleteVolumeResponse> DeleteVolumeAsync(string volumeId) =>
        Call<DeleteVolumeRequest, DeleteVolumeResponse>(_csi, Controller, "DeleteVolume", new() { VolumeId = volumeId });

    public Task<ControllerPublishVolumeResponse> ControllerPublishAsync(string volumeId, string nodeId, VolumeCapability capability) =>
        Call<ControllerPublishVolumeRequest, ControllerPublishVolumeResponse>(_csi, Controller, "ControllerPublishVolume",
            new() { VolumeId = volumeId, NodeId = nodeId, VolumeCapability = capability });

    public Task<ControllerUnpublishVolumeResponse> ControllerUnpublishAsync(string volumeId, string nodeId) =>
        Call<ControllerUnpublishVolumeRequest, ControllerUnpublishVolumeResponse>(_csi, Controller, "ControllerUnpublishVolume",
            new() { VolumeId = volumeId, NodeId = nodeId });

    /// <summary>ControllerUnpublishVolume then DeleteVolume, as the external provisioner and
    /// attacher do when a claim goes.</summary>
    public async Task DeleteAttachedVolumeAsync(string volumeId, string nodeId)
    {
        await ControllerUnpublishAsync(volumeId, nodeId);
        await DeleteVolumeAsync(volumeId);
    }

    public Task<CreateVolumeGroupSnapshotResponse> CreateGroupSnapshotAsync(string name, IEnumerable<string> volumeIds) =>
        Call<CreateVolumeGroupSnapshotRequest, CreateVolumeGroupSnapshotResponse>(_csi, GroupController, "CreateVolumeGroupSnapshot",
            new() { Name = name, SourceVolumeIds = { volumeIds } });

    public Task<DeleteVolumeGroupSnapshotResponse> DeleteGroupSnapshotAsync(VolumeGroupSnapshot snapshot) =>
        Call<DeleteVolumeGroupSnapshotRequest, DeleteVolumeGroupSnapshotResponse>(_csi, GroupController, "DeleteVolumeGroupSnapshot",
            new() { GroupSnapshotId = snapshot.GroupSnapshotId, SnapshotIds = { snapshot.Snapshots.Select(s => s.SnapshotId) } });

    /// <summary>NodeStageVolume then NodePublishVolume at kubelet's paths (creating the
    /// directories kubelet creates); returns the pod's mount path.</summary>
    public async Task<string> MountAsync(string volumeId, VolumeCapability capability, string pod)
    {
        var staging = layout.StagingPath(volumeId);
        var target = layout.TargetPath(volumeId, pod);
        Directory.CreateDirectory(staging);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        await NodeCallAsync<NodeStageVolumeRequest, NodeStageVolumeResponse>("NodeStageVolume",
            new() { VolumeId = volumeId, StagingTargetPath = staging, VolumeCapability = capability });
        await NodeCallAsync<NodePublishVolumeRequest, NodePublishVolumeResponse>("NodePublishVolume",
            new() { VolumeId = volumeId, StagingTargetPath = staging, TargetPath = target, VolumeCapability = capability });
        return target;
    }

    /// <summary>NodeUnpublishVolume then NodeUnstageVolume.</summary>
    public async Task UnmountAsync(string volumeId, string pod)
    {
        await NodeCallAsync<NodeUnpublishVolumeRequest, NodeUnpublishVolumeResponse>("NodeUnpublishVolume",
            new() { VolumeId = volumeId, TargetPath = layout.TargetPath(volumeId, pod) });
        await NodeCallAsync<NodeUnstageVolumeRequest, NodeUnstageVolumeResponse>("NodeUnstageVolume",
            new() { VolumeId = volumeId, StagingTargetPath = layout.StagingPath(volumeId) });
    }

    public Task<EnableVolumeReplicationResponse> EnableReplicationAsync(EnableVolumeReplicationRequest request) =>
        Call<EnableVolumeReplicationRequest, EnableVolumeReplicationResponse>(_addons, Replication, "EnableVolumeReplication", request);

    public Task<PromoteVolumeResponse> PromoteAsync(PromoteVolumeRequest request) =>
        Call<PromoteVolumeRequest, PromoteVolumeResponse>(_addons, Replication, "PromoteVolume", request);

    public Task<GetVolumeReplicationInfoResponse> GetReplicationInfoAsync(GetVolumeReplicationInfoRequest request) =>
        Call<GetVolumeReplicationInfoRequest, GetVolumeReplicationInfoResponse>(_addons, Replication, "GetVolumeReplicationInfo", request, TimeSpan.FromSeconds(5));

    public void Dispose()
    {
        _csi.Dispose();
        _addons.Dispose();
    }

    /// <summary>A node call retried as kubelet retries one (node calls are idempotent): a few
    /// times, after a pause, when it failed with INTERNAL or ABORTED.</summary>
    private async Task<TResponse> NodeCallAsync<TRequest, TResponse>(string method, TRequest request)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new()
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await Call<TRequest, TResponse>(_csi, Node, method, request, NodeDeadline);
            }
            catch (RpcException e) when (e.Status is StatusCode.Internal or StatusCode.Aborted && attempt < NodeAttempts)
            {
                await Task.Delay(NodeRetryPause);
            }
        }
    }

    private static ServiceDescriptor Csi(string name) => CsiReflection.Descriptor.Services.Single(s => s.Name == name);

    private static Task<TResponse> Call<TRequest, TResponse>(GrpcClient client, ServiceDescriptor service, string method, TRequest request, TimeSpan? deadline = null)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new() =>
        client.UnaryAsync<TRequest, TResponse>(service.FindMethodByName(method), request, new CallOptions { Timeout = deadline ?? Deadline });
}
