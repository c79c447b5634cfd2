using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.ConformanceTests.Cluster;

/// <summary>One node of a <see cref="TestCluster"/>: `csidriver serve` on its own simulated host
/// with its own workspace, registered with the cluster's controller.</summary>
public sealed class ClusterNode : IAsyncDisposable
{
    private readonly TestCluster _cluster;
    private readonly DriverSettings _settings;
    private readonly bool _ownsWorkspace;
    private readonly List<ProcessOutput> _outputs = [];
    private DriverProcess? _process;

    /// <summary>A node started with <paramref name="settings"/> (its id, capacity, …) plus the
    /// cluster's flags, on <paramref name="workspace"/> (a new one when null, removed with the node).</summary>
    internal ClusterNode(TestCluster cluster, SimulatedHost host, DriverSettings settings, DriverWorkspace? workspace)
    {
        _cluster = cluster;
        Host = host;
        _settings = settings;
        _ownsWorkspace = workspace is null;
        Workspace = workspace ?? DriverWorkspace.Create();
    }

    public SimulatedHost Host { get; }

    public string NodeId => _settings.NodeId;

    public string? CapacityLimit => _settings.CapacityLimit;

    public DriverWorkspace Workspace { get; }

    public DriverProcess Process => _process ?? throw new InvalidOperationException($"node {NodeId} is not running");

    /// <summary>The node's own CSI socket, as kubelet uses it.</summary>
    public CsiClient Csi => Process.Csi;

    public string OutputText => string.Join("\n--- restarted ---\n", _outputs.Select(o => o.AllText));

    public async Task StartAsync()
    {
        _process = await DriverProcess.StartAsync(Workspace, _settings with
        {
            Launcher = Host.Launcher,
            ExtraArguments = [.. _settings.ExtraArguments, .. _cluster.NodeArguments(Host, NodeId)],
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
        if (_ownsWorkspace)
        {
            Workspace.Dispose();
        }
    }
}
