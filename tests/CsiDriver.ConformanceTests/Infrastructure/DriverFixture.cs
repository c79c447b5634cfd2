namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>One driver process shared by the tests of a class (they use unique volume names and
/// do not interfere). Its disposal is a graceful-stop check: SIGTERM, exit code 0, socket gone.
/// In split mode (<see cref="SplitDeployment"/>) the driver is a cluster node with a controller
/// beside it, and <see cref="Csi"/> reaches each service where a CO would.</summary>
public class DriverFixture : IAsyncLifetime
{
    private readonly DriverWorkspace _workspace = DriverWorkspace.Create();
    private DriverProcess? _driver;
    private SplitDeployment? _split;

    public DriverProcess Driver => _driver ?? throw new InvalidOperationException("the driver has not started");

    public CsiClient Csi => _split?.Csi ?? Driver.Csi;

    /// <summary>Where csi-addons is served: the driver's socket, or in split mode the controller's.</summary>
    public string CsiAddonsSocketPath => _split?.CsiAddonsSocketPath ?? Driver.Workspace.CsiAddonsSocketPath;

    public string NodeId => Driver.NodeId;

    /// <summary>Whether a controller serves the Controller calls (split mode).</summary>
    public bool IsSplit => _split is not null;

    protected virtual DriverSettings Settings => new();

    public async Task InitializeAsync()
    {
        if (SplitDeployment.IsRequested)
        {
            _split = await SplitDeployment.StartAsync(_workspace, Settings);
            _driver = _split.Node;
        }
        else
        {
            _driver = await DriverProcess.StartAsync(_workspace, Settings);
        }
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (_driver is not null)
            {
                await _driver.StopAsync();
            }
            if (_split is not null)
            {
                await _split.StopControllerAsync();
            }
        }
        finally
        {
            if (_split is not null)
            {
                await _split.DisposeAsync();
            }
            else if (_driver is not null)
            {
                await _driver.DisposeAsync();
            }
            _workspace.Dispose();
        }
    }
}
