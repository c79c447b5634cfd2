using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.ConformanceTests.Cluster;

/// <summary>One node of a <see cref="TestCluster"/>: `csidriver serve` on its own simulated host
/// with its own workspace, registered with the cluster's controller.</summary>
public sealed class ClusterNode : IAsyncDisposable
{
    private readonly TestCluster _cluster;
    private readonly List<ProcessOutput> _outputs = [];
    private DriverProcess? _process;

    internal ClusterNode(TestCluster cluster, SimulatedHost host, string nodeId, string capacityLimit)
    {
        _cluster = cluster;
        Host = host;
        NodeId = nodeId;
        CapacityLimit = capacityLimit;
    }

    public SimulatedHost Host { get; }

    public string NodeId { get; }

    public string CapacityLimit { get; }

    public DriverWorkspace Workspace { get; } = DriverWorkspace.Create();

    public DriverProcess Process => _process ?? throw new InvalidOperationException($"node {NodeId} is not running");

    /// <summary>The node's own CSI socket, as kubelet uses it.</summary>
    public CsiClient Csi => Process.Csi;

    public string OutputText => string.Join("\n--- restarted ---\n", _outputs.Select(o => o.AllText));

    public async Task StartAsync()
    {
        _process = await DriverProcess.StartAsync(Workspace, new DriverSettings
        {
            NodeId = NodeId,
            CapacityLimit = CapacityLimit,
            Launcher = Host.Launcher,
            ExtraArguments = _cluster.NodeArguments(Host, NodeId),
        });
        _outputs.Add(_process.Output);
    }

    /// <summary>SIGKILL, as a crashed machine's process ends.</summary>
    public async Task CrashAsync()
    {
        await Process.CrashAsync();
        await Process.DisposeAsync();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
        Workspace.Dispose();
    }
}
