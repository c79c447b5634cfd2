using CsiDriver.Cluster;
using CsiDriver.Csi;
using CsiDriver.Node;
using CsiDriver.Replication;
using CsiDriver.Rpc;

namespace CsiDriver.Hosting;

public sealed partial class DriverRuntime
{
    /// <summary>The csi.v1 services served on --endpoint, held to the CSI size limits.</summary>
    public IEnumerable<ServiceBinding> CsiServices() => RequestSizeLimits.Csi.Guard(
    [
        Identity().Binding(),
        new ControllerService(Driver, ShowGrownVolume).Binding(),
        new GroupControllerService(Driver).Binding(),
        new SnapshotMetadataService(Driver).Binding(),
        new NodeService(Driver, Paths, Attacher).Binding(),
    ]);

    /// <summary>The site-link service served on --site-link-address (once the engine is loaded).</summary>
    public IEnumerable<ServiceBinding> SiteLinkServices() =>
    [
        new SiteLinkService(Driver.Replication, Driver.Engine, _loggerFactory).Binding(),
    ];

    /// <summary>What the node link serves the cluster controller, which forwards each call to the
    /// node owning its object: the controller-side CSI and csi-addons services, held to the same
    /// limits, and the catalog.</summary>
    public IEnumerable<ServiceBinding> NodeLinkServices() =>
    [
        .. RequestSizeLimits.Csi.Guard(
        [
            Identity().Binding(), new ControllerService(Driver, ShowGrownVolume).Binding(), new GroupControllerService(Driver).Binding(),
            new SnapshotMetadataService(Driver).Binding(),
        ]),
        .. RequestSizeLimits.CsiAddons.Guard(CsiAddonsControllerServices()),
        new NodeCatalogService(Driver).Binding(),
    ];

    /// <summary>The csi-addons services served on --csiaddons-endpoint, held to the same limits.</summary>
    public IEnumerable<ServiceBinding> CsiAddonsServices() => RequestSizeLimits.CsiAddons.Guard(
    [
        new AddonsIdentityService(Options.DriverName, Manifest(), () => Driver.IsReady).Binding(),
        .. CsiAddonsControllerServices(),
    ]);

    private IEnumerable<ServiceBinding> CsiAddonsControllerServices() =>
    [
        new VolumeGroupService(Driver).Binding(),
        new ReplicationService(Driver).Binding(),
    ];

    private IdentityService Identity() => new(Options.DriverName, Manifest(), () => Driver.IsReady);

    /// <summary>GetPluginInfo's and GetIdentity's manifest: which node this is.</summary>
    private Dictionary<string, string> Manifest() => new()
    {
        ["project"] = "Formation",
        ["node-id"] = Options.NodeId,
        ["data-path"] = "nbd",
    };
}
