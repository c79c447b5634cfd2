using CsiDriver.Csi;
using CsiDriver.Hosting;
using CsiDriver.Logging;
using CsiDriver.Rpc;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Controller;

/// <summary>
/// Runs `csidriver controller`: serves the cluster's Controller, GroupController,
/// SnapshotMetadata and csi-addons services on unix sockets, the node registry on the node link,
/// and Locate on the site link, until SIGTERM or SIGINT. It holds no state: everything it
/// knows, the nodes tell it again after a restart.
/// </summary>
public static partial class ControllerHost
{
    public static async Task<int> RunAsync(ControllerOptions options, CancellationToken cancellationToken)
    {
        using var loggerFactory = LogSetup.Create(options.JsonLogs);
        var log = loggerFactory.CreateLogger("csidriver");
        using var stop = new ShutdownSignal(cancellationToken);
        var registry = new NodeRegistry(options.NodeLink, options.NodeTimeout, TimeProvider.System, loggerFactory.CreateLogger<NodeRegistry>());
        var router = new NodeRouter(registry, TimeProvider.System);
        var placement = new Placement(registry);
        var locks = new OperationLocks();
        var manifest = new Dictionary<string, string> { ["project"] = "Formation", ["role"] = "controller" };
        var rpcLog = loggerFactory.CreateLogger("rpc");
        var servers = new List<GrpcServer>
        {
            // Held to CSI's size limits here too: an over-long id must be INVALID_ARGUMENT, not
            // a search for a node of that name.
            DriverHost.Server(options.Endpoint, RequestSizeLimits.Csi.Guard(
            [
                new IdentityService(options.DriverName, manifest, () => true).Binding(),
                new ClusterControllerService(router, placement, locks).Binding(),
                new ClusterGroupControllerService(router, locks).Binding(),
                new ClusterSnapshotMetadataService(router).Binding(),
            ]), rpcLog, loggerFactory),
            DriverHost.Server(options.NodeLink.ListenEndpoint(), [registry.Binding()], rpcLog, loggerFactory, failuresOnly: true),
        };
        if (options.CsiAddonsEndpoint is { } addons)
        {
            servers.Add(DriverHost.Server(addons, RequestSizeLimits.CsiAddons.Guard(
            [
                new AddonsIdentityService(options.DriverName, manifest, () => true).Binding(),
                new ClusterVolumeGroupService(router, placement, locks).Binding(),
                new ClusterReplicationService(router).Binding(),
            ]), rpcLog, loggerFactory));
        }
        if (options is { SiteLinkAddress: { } siteLink, SiteLinkTls: { } tls })
        {
            servers.Add(DriverHost.Server(new ServerEndpoint.Tcp(siteLink.ToListenEndPoint(), tls.Certificate, tls.Authorities),
                [new SiteLocatorService(router, placement).Binding()], rpcLog, loggerFactory));
        }
        return await DriverHost.ServeUntilStoppedAsync(servers, stop, log, () =>
        {
            LogServing(log, options.DriverName, IdentityService.VendorVersion, options.Endpoint, options.NodeLink.Listen.ToString(), options.NodeTimeout.TotalSeconds);
            return Task.CompletedTask;
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{DriverName} {Version} controller serving on {Endpoint}; nodes register at {NodeLink} (node timeout {NodeTimeoutSeconds:0.#} s)")]
    private static partial void LogServing(ILogger logger, string driverName, string version, string endpoint, string nodeLink, double nodeTimeoutSeconds);
}
