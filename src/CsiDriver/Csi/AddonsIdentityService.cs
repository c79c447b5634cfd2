using CsiAddons.Identity;
using CsiDriver.Rpc;
using VolumeGroupType = CsiAddons.Identity.Capability.Types.VolumeGroup.Types.Type;

namespace CsiDriver.Csi;

/// <summary>csi-addons identity.Identity on --csiaddons-endpoint: the csi-addons sidecar
/// learns from it who the driver is and which csi-addons services it offers.</summary>
public sealed class AddonsIdentityService(string driverName, IDictionary<string, string> manifest, Func<bool> isReady)
{
    public ServiceBinding Binding() =>
        new ServiceBinding(IdentityReflection.Descriptor.Services.Single(s => s.Name == "Identity"))
            .Unary<GetIdentityRequest, GetIdentityResponse>("GetIdentity", GetIdentity)
            .Unary<GetCapabilitiesRequest, GetCapabilitiesResponse>("GetCapabilities", GetCapabilities)
            .Unary<ProbeRequest, ProbeResponse>("Probe", Probe);

    private Task<GetIdentityResponse> GetIdentity(GetIdentityRequest request, CallContext context) =>
        Task.FromResult(new GetIdentityResponse
        {
            Name = driverName,
            VendorVersion = IdentityService.VendorVersion,
            Manifest = { manifest },
        });

    /// <summary>Lists only the csi-addons services this driver really serves: the controller
    /// side of volume groups (see <see cref="VolumeGroupService"/>) and of volume replication
    /// (see <see cref="ReplicationService"/>).</summary>
    private static readonly Capability[] Capabilities =
    [
        new() { Service = new() { Type = Capability.Types.Service.Types.Type.ControllerService } },
        .. new[]
        {
            VolumeGroupType.VolumeGroup,
            VolumeGroupType.LimitVolumeToOneVolumeGroup,
            VolumeGroupType.DoNotAllowVgToDeleteVolumes,
            VolumeGroupType.ModifyVolumeGroup,
            VolumeGroupType.GetVolumeGroup,
            VolumeGroupType.ListVolumeGroups,
        }.Select(type => new Capability { VolumeGroup = new() { Type = type } }),
        new() { VolumeReplication = new() { Type = Capability.Types.VolumeReplication.Types.Type.VolumeReplication } },
        // The destination ids of a replication, which differ from the source's between clusters.
        new() { VolumeReplication = new() { Type = Capability.Types.VolumeReplication.Types.Type.GetReplicationDestinationInfo } },
    ];

    private static Task<GetCapabilitiesResponse> GetCapabilities(GetCapabilitiesRequest request, CallContext context) =>
        Task.FromResult(new GetCapabilitiesResponse { Capabilities = { Capabilities.Select(c => c.Clone()) } });

    private Task<ProbeResponse> Probe(ProbeRequest request, CallContext context) =>
        Task.FromResult(new ProbeResponse { Ready = isReady() });
}
