using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests.Cluster;

/// <summary>
/// One cluster as Kubernetes would run it: `csidriver controller` on a host of its own, and
/// `csidriver serve` nodes on theirs, joined by the node link (mutual TLS, the certificates
/// carrying the one name both ends check). The test drives the controller's sockets as the
/// sidecars do and each node's socket as kubelet does. Workspaces outlive the processes, so a
/// stopped or killed controller or node restarts on the same state.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    public const int NodeLinkPort = 7600;
    public const int NodePort = 7601;
    public const int SiteLinkPort = 7443;
    public const string NodeLinkName = "formation-node-link";
    public const string SiteLinkName = "formation-site-link";

    /// <summary>Short, so a node's lapse shows within seconds (nodes renew every second).</summary>
    public const int NodeTimeoutSeconds = 3;

    private static readonly TimeSpan RegistrationTimeout = TimeSpan.FromSeconds(30);

    private readonly DriverWorkspace _workspace = DriverWorkspace.Create();
    private readonly List<ClusterNode> _nodes = [];
    private readonly List<ProcessOutput> _controllerOutputs = [];
    private CsiAddonsClient? _addons;
    private DriverProcess? _controller;

    private readonly string? _driverName;

    public TestCluster(string name, TestNetwork network, TestCertificates pki, bool servesSiteLink = false, string? driverName = null)
    {
        Name = name;
        _driverName = driverName;
        Network = network;
        ControllerHost = network.AddHost($"{name}-controller");
        NodeLink = pki.Site("node-link", NodeLinkName);
        SiteLink = servesSiteLink ? pki.Site("site-link", SiteLinkName) : null;
    }

    public string Name { get; }

    public TestNetwork Network { get; }

    public SimulatedHost ControllerHost { get; }

    public SiteIdentity NodeLink { get; }

    /// <summary>The site-link identity of the controller and every node; null: no site link.</summary>
    public SiteIdentity? SiteLink { get; }

    public IReadOnlyList<ClusterNode> Nodes => _nodes;

    /// <summary>The controller's CSI socket, as the provisioner, snapshotter and resizer use it.</summary>
    public CsiClient Csi => Controller.Csi;

    /// <summary>The controller's csi-addons socket, as the csi-addons sidecar uses it.</summary>
    public CsiAddonsClient Addons => _addons ?? throw new InvalidOperationException("the controller is not running");

    public DriverProcess Controller => _controller ?? throw new InvalidOperationException("the controller is not running");

    /// <summary>The controller's csi-addons socket.</summary>
    public string CsiAddonsSocketPath => _workspace.CsiAddonsSocketPath;

    /// <summary>host:port the other cluster's nodes ask Locate at (its peerAddress for this cluster).</summary>
    public string SiteLinkAddress => ControllerHost.Endpoint(SiteLinkPort);

    /// <summary>What every controller and node process wrote, for failure messages.</summary>
    public string OutputText => string.Join("\n", _controllerOutputs.Select(o => "--- controller ---\n" + o.AllText)
        .Concat(_nodes.Select(n => $"--- node {n.NodeId} ---\n{n.OutputText}")));

    public async Task StartControllerAsync()
    {
        _controller = await DriverProcess.StartAsync(_workspace, ControllerArguments(), ControllerHost.Launcher, $"{Name}-controller");
        _controllerOutputs.Add(_controller.Output);
        _addons = new CsiAddonsClient(_workspace.CsiAddonsSocketPath);
    }

    public async Task StopControllerAsync()
    {
        _addons?.Dispose();
        _addons = null;
        await Controller.StopAsync();
        await Controller.DisposeAsync();
        _controller = null;
    }

    /// <summary>Starts a node (capacity capped, so placement has something to choose by) and
    /// waits until the controller routes to it.</summary>
    public Task<ClusterNode> AddNodeAsync(string nodeId, string capacityLimit) =>
        AddNodeAsync(new DriverSettings { NodeId = nodeId, CapacityLimit = capacityLimit });

    /// <summary>Starts a node with <paramref name="settings"/> and the cluster's flags (on
    /// <paramref name="workspace"/> when given) and waits until the controller routes to it.</summary>
    public async Task<ClusterNode> AddNodeAsync(DriverSettings settings, DriverWorkspace? workspace = null)
    {
        var node = new ClusterNode(this, Network.AddHost(settings.NodeId), settings, workspace);
        _nodes.Add(node);
        await node.StartAsync();
        await WaitUntilRoutedAsync(node);
        return node;
    }

    /// <summary>Waits (bounded) until the node's running process has registered (it logs that
    /// once the controller answered) and the controller forwards calls for the node's ids: a
    /// volume id carrying its owner that the node does not have then comes back NOT_FOUND from
    /// the node, where an unregistered or lapsed node gives UNAVAILABLE. The registration comes
    /// first because a node restarted within its node timeout is routed by its previous
    /// process's registration, at the same address, until that lapses: a NOT_FOUND then proves
    /// nothing of the new process, whose first registration may come after the lapse.</summary>
    public async Task WaitUntilRoutedAsync(ClusterNode node)
    {
        await node.Process.Output.WaitForLineAsync(l => l.Contains("registered with the controller", StringComparison.Ordinal),
            "saying the node registered with the controller", RegistrationTimeout);
        var deadline = DateTime.UtcNow + RegistrationTimeout;
        var probe = $"vol-00000000000000000000_{node.NodeId}";
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                await Csi.ControllerGetVolume(probe);
                Assert.Fail($"ControllerGetVolume({probe}) found a volume that was never created");
            }
            catch (RpcException e) when (e.Status == StatusCode.NotFound)
            {
                return;
            }
            catch (RpcException e) when (e.Status == StatusCode.Unavailable)
            {
                last = e.Message;
            }
            await Task.Delay(100);
        }
        Assert.Fail($"the controller did not route to node {node.NodeId} within {RegistrationTimeout.TotalSeconds} s ({last}); output:\n{OutputText}");
    }

    public ClusterNode Node(string nodeId) => _nodes.Single(n => n.NodeId == nodeId);

    /// <summary>The node that holds a volume, by the topology the controller reported for it.</summary>
    public ClusterNode NodeOf(Volume volume) => Node(volume.AccessibleTopology.Single().Segments[Volumes.NodeTopologyKey]);

    public async ValueTask DisposeAsync()
    {
        _addons?.Dispose();
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }
        if (_controller is not null)
        {
            await _controller.DisposeAsync();
        }
        _workspace.Dispose();
    }

    /// <summary>The node-link and site-link flags a node of this cluster starts with.</summary>
    internal IReadOnlyList<string> NodeArguments(SimulatedHost host, string nodeId)
    {
        List<string> arguments =
        [
            "--controller-address", ControllerHost.Endpoint(NodeLinkPort),
            "--node-link-address", host.Endpoint(NodePort),
            .. Tls("--node-link", NodeLink), "--node-link-server-name", NodeLinkName,
        ];
        if (SiteLink is not null)
        {
            arguments.AddRange(["--site-link-address", host.Endpoint(SiteLinkPort), .. Tls("--site-link", SiteLink),
                "--site-link-server-name", SiteLinkName, "--site-id", $"{Name}-{nodeId}"]);
        }
        return arguments;
    }

    private List<string> ControllerArguments()
    {
        List<string> arguments =
        [
            "controller",
            "--endpoint", "unix://" + _workspace.SocketPath,
            "--csiaddons-endpoint", "unix://" + _workspace.CsiAddonsSocketPath,
            "--node-link-address", ControllerHost.Endpoint(NodeLinkPort),
            .. Tls("--node-link", NodeLink), "--node-link-server-name", NodeLinkName,
            "--node-timeout-seconds", NodeTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ];
        if (_driverName is not null)
        {
            arguments.AddRange(["--driver-name", _driverName]);
        }
        if (SiteLink is not null)
        {
            arguments.AddRange(["--site-link-address", SiteLinkAddress, .. Tls("--site-link", SiteLink), "--site-link-server-name", SiteLinkName]);
        }
        return arguments;
    }

    private static string[] Tls(string prefix, SiteIdentity identity) =>
        [$"{prefix}-cert", identity.CertificatePath, $"{prefix}-key", identity.KeyPath, $"{prefix}-ca", identity.CaPath];
}
