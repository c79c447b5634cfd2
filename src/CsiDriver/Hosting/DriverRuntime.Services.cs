using CsiDriver.Csi;
using CsiDriver.Node;
using CsiDriver.Replication;
using CsiDriver.Rpc;

namespace CsiDriver.Hosting;

public sealed partial class DriverRuntime
{
    /// <summary>The csi.v1 services served on --endpoint, held to the CSI size limits.</summary>
    public IEnumerable<ServiceBinding> CsiServices() =>
        new[]
        {
            new IdentityService(Driver).Binding(),
            new ControllerService(Driver).Binding(),
            new GroupControllerService(Driver).Binding(),
            new SnapshotMetadataService(Driver).Binding(),
            new NodeService(Driver, Paths, Attacher).Binding(),
        }.Select(b => b.CheckingRequests(RequestSizeLimits.Csi.Check));

    /// <summary>The site-link service served on --site-link-address (once the engine is loaded).</summary>
    public IEnumerable<ServiceBinding> SiteLinkServices() =>
    [
        new SiteLinkService(Driver.Replication, Driver.Engine, _loggerFactory).Binding(),
    ];

    /// <summary>The csi-addons services served on --csiaddons-endpoint, held to the same limits.</summary>
    public IEnumerable<ServiceBinding> CsiAddonsServices() =>
        new[]
        {
            new AddonsIdentityService(Driver).Binding(),
            new VolumeGroupService(Driver).Binding(),
            new ReplicationService(Driver).Binding(),
        }.Select(b => b.CheckingRequests(RequestSizeLimits.CsiAddons.Check));
}
