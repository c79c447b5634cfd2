using System.Reflection;
using Csi.V1;
using CsiDriver.Rpc;
using static Csi.V1.PluginCapability.Types;

namespace CsiDriver.Csi;

/// <summary>csi.v1.Identity: who the plugin is, what it offers, whether it is ready. A node
/// and the cluster controller answer alike but for the manifest (which says which one it is)
/// and readiness.</summary>
public sealed class IdentityService(string driverName, IDictionary<string, string> manifest, Func<bool> isReady)
{
    public static readonly string VendorVersion =
        typeof(IdentityService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(IdentityService).Assembly.GetName().Version?.ToString()
        ?? "0.0.0";

    public ServiceBinding Binding() =>
        new ServiceBinding(CsiReflection.Descriptor.Services.Single(s => s.Name == "Identity"))
            .Unary<GetPluginInfoRequest, GetPluginInfoResponse>("GetPluginInfo", GetPluginInfo)
            .Unary<GetPluginCapabilitiesRequest, GetPluginCapabilitiesResponse>("GetPluginCapabilities", GetPluginCapabilities)
            .Unary<ProbeRequest, ProbeResponse>("Probe", Probe);

    private Task<GetPluginInfoResponse> GetPluginInfo(GetPluginInfoRequest request, CallContext context) =>
        Task.FromResult(new GetPluginInfoResponse
        {
            Name = driverName,
            VendorVersion = VendorVersion,
            Manifest = { manifest },
        });

    private Task<GetPluginCapabilitiesResponse> GetPluginCapabilities(GetPluginCapabilitiesRequest request, CallContext context) =>
        Task.FromResult(new GetPluginCapabilitiesResponse
        {
            Capabilities =
            {
                new PluginCapability { Service = new Service { Type = Service.Types.Type.ControllerService } },
                new PluginCapability { Service = new Service { Type = Service.Types.Type.GroupControllerService } },
                // Changed-block tracking from the engine's chunk maps and journal (SnapshotMetadataService).
                new PluginCapability { Service = new Service { Type = Service.Types.Type.SnapshotMetadataService } },
                // Volumes live in the engine of the node that created them.
                new PluginCapability { Service = new Service { Type = Service.Types.Type.VolumeAccessibilityConstraints } },
                // The engine grows a volume while it is attached.
                new PluginCapability { VolumeExpansion = new VolumeExpansion { Type = VolumeExpansion.Types.Type.Online } },
            },
        });

    private Task<ProbeResponse> Probe(ProbeRequest request, CallContext context) =>
        Task.FromResult(new ProbeResponse { Ready = isReady() });
}
