using CsiAddons.Identity;
using CsiAddons.VolumeGroup;
using CsiDriver.Rpc;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>Calls on the driver's csi-addons socket, as the csi-addons sidecar makes them.</summary>
public sealed class CsiAddonsClient(string socketPath) : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private static readonly ServiceDescriptor IdentityService = IdentityReflection.Descriptor.Services.Single(s => s.Name == "Identity");

    private readonly GrpcClient _grpc = GrpcClient.ForUnixSocket(socketPath);

    public Task<GetIdentityResponse> GetIdentity() => Identity<GetIdentityRequest, GetIdentityResponse>("GetIdentity", new());

    public Task<GetCapabilitiesResponse> GetCapabilities() => Identity<GetCapabilitiesRequest, GetCapabilitiesResponse>("GetCapabilities", new());

    public Task<ProbeResponse> Probe() => Identity<ProbeRequest, ProbeResponse>("Probe", new());

    public Task<CreateVolumeGroupResponse> CreateVolumeGroup(CreateVolumeGroupRequest request) =>
        VolumeGroups<CreateVolumeGroupRequest, CreateVolumeGroupResponse>("CreateVolumeGroup", request);

    public Task<ModifyVolumeGroupMembershipResponse> ModifyVolumeGroupMembership(ModifyVolumeGroupMembershipRequest request) =>
        VolumeGroups<ModifyVolumeGroupMembershipRequest, ModifyVolumeGroupMembershipResponse>("ModifyVolumeGroupMembership", request);

    public Task<DeleteVolumeGroupResponse> DeleteVolumeGroup(DeleteVolumeGroupRequest request) =>
        VolumeGroups<DeleteVolumeGroupRequest, DeleteVolumeGroupResponse>("DeleteVolumeGroup", request);

    public Task<ListVolumeGroupsResponse> ListVolumeGroups(ListVolumeGroupsRequest request) =>
        VolumeGroups<ListVolumeGroupsRequest, ListVolumeGroupsResponse>("ListVolumeGroups", request);

    public Task<ControllerGetVolumeGroupResponse> ControllerGetVolumeGroup(ControllerGetVolumeGroupRequest request) =>
        VolumeGroups<ControllerGetVolumeGroupRequest, ControllerGetVolumeGroupResponse>("ControllerGetVolumeGroup", request);

    /// <summary>Any method of any csi-addons service, by its descriptor.</summary>
    public Task<TResponse> Call<TRequest, TResponse>(FileDescriptor file, string service, string method, TRequest request)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new() =>
        _grpc.UnaryAsync<TRequest, TResponse>(
            file.Services.Single(s => s.Name == service).FindMethodByName(method),
            request,
            new CallOptions { Timeout = Deadline });

    public void Dispose() => _grpc.Dispose();

    private Task<TResponse> VolumeGroups<TRequest, TResponse>(string method, TRequest request)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new() =>
        Call<TRequest, TResponse>(VolumegroupReflection.Descriptor, "Controller", method, request);

    private Task<TResponse> Identity<TRequest, TResponse>(string method, TRequest request)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new() =>
        Call<TRequest, TResponse>(IdentityReflection.Descriptor, IdentityService.Name, method, request);
}
