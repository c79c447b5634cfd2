using CsiDriver.Csi;
using CsiDriver.Node;
using CsiDriver.Replication;
using CsiDriver.Rpc;

namespace CsiDriver.Hosting;

public sealed partial class Driver
{
    /// <summary>The csi.v1 services served on --endpoint, held to the CSI size limits.</summary>
    public IEnumerable<ServiceBinding> CsiServices() =>
        new[]
        {
            new IdentityService(this).Binding(),
            new ControllerService(this).Binding(),
            new GroupControllerService(this).Binding(),
            new SnapshotMetadataService(this).Binding(),
            new NodeService(this, Paths, Attacher).Binding(),
        }.Select(b => b.CheckingRequests(RequestSizeLimits.Csi.Check));

    /// <summary>The site-link service served on --site-link-address (once the engine is loaded).</summary>
    public IEnumerable<ServiceBinding> SiteLinkServices() =>
    [
        new SiteLinkService(Replication, Engine, _loggerFactory).Binding(),
    ];

    /// <summary>The csi-addons services served on --csiaddons-endpoint, held to the same limits.</summary>
    public IEnumerable<ServiceBinding> CsiAddonsServices() =>
        new[]
        {
            new AddonsIdentityService(this).Binding(),
            new VolumeGroupService(this).Binding(),
            new ReplicationService(this).Binding(),
        }.Select(b => b.CheckingRequests(RequestSizeLimits.CsiAddons.Check));
}
