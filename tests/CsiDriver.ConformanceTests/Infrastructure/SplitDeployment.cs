using CsiDriver.ConformanceTests.Cluster;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>
/// The conformance suite's split mode (FORMATION_CONFORMANCE=split): the fixture's driver runs
/// as a cluster node, and a `csidriver controller` beside it serves Controller, GroupController
/// and csi-addons, as in a Kubernetes deployment. Tests see one <see cref="CsiClient"/> that
/// sends Controller and GroupController calls to the controller and the rest to the node, as
/// csi-sanity does with --csi.controllerendpoint; csi-addons calls go to the controller.
/// </summary>
public sealed class SplitDeployment : IAsyncDisposable
{
    public const string EnvironmentVariable = "FORMATION_CONFORMANCE";

    /// <summary>Classes whose tests also run in split mode carry this trait with <see cref="Runs"/>
    /// (make test runs them a second time so); the others drive things split mode does not change.</summary>
    public const string Trait = "Split";

    public const string Runs = "runs";

    /// <summary>A test of such a class that cannot run split carries this trait, saying why.</summary>
    public const string Skips = "SplitSkips";

    /// <summary>The controller offers no ControllerPublish (attachRequired: false).</summary>
    public const string NeedsControllerPublish = "ControllerPublish";

    /// <summary>The test filter that selects split mode's tests.</summary>
    public const string Filter = $"{Trait}={Runs}&{Skips}!={NeedsControllerPublish}";

    private readonly TestNetwork _network = new(namespaces: false);
    private readonly TestCertificates _pki = TestCertificates.Create();
    private readonly TestCluster _cluster;

    private SplitDeployment(string? driverName)
    {
        _cluster = new TestCluster("split", _network, _pki, driverName: driverName);
    }

    /// <summary>Whether this run asks for split mode.</summary>
    public static bool IsRequested => Environment.GetEnvironmentVariable(EnvironmentVariable) == "split";

    /// <summary>The node: the fixture's driver process.</summary>
    public DriverProcess Node => _cluster.Nodes.Single().Process;

    public CsiClient Csi { get; private set; } = null!;

    public string CsiAddonsSocketPath => _cluster.CsiAddonsSocketPath;

    /// <summary>Starts the controller, then the node on <paramref name="workspace"/> with
    /// <paramref name="settings"/> (csi-addons served by the controller, not the node).</summary>
    public static async Task<SplitDeployment> StartAsync(DriverWorkspace workspace, DriverSettings settings)
    {
        var split = new SplitDeployment(settings.DriverName);
        try
        {
            await split._cluster.StartControllerAsync();
            await split._cluster.AddNodeAsync(settings with { CsiAddons = false }, workspace);
            split.Csi = new CsiClient(workspace.SocketPath, split._cluster.Controller.Workspace.SocketPath);
            return split;
        }
        catch
        {
            await split.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops the controller gracefully (the node is the fixture's to stop).</summary>
    public Task StopControllerAsync() => _cluster.StopControllerAsync();

    public async ValueTask DisposeAsync()
    {
        Csi?.Dispose();
        await _cluster.DisposeAsync();
        _network.Dispose();
        _pki.Dispose();
    }
}
