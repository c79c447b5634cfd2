namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>One driver process shared by the tests of a class (they use unique volume names and
/// do not interfere). Its disposal is a graceful-stop check: SIGTERM, exit code 0, socket gone.</summary>
public class DriverFixture : IAsyncLifetime
{
    private readonly DriverWorkspace _workspace = DriverWorkspace.Create();
    private DriverProcess? _driver;

    public DriverProcess Driver => _driver ?? throw new InvalidOperationException("the driver has not started");

    public CsiClient Csi => Driver.Csi;

    public string NodeId => Driver.NodeId;

    protected virtual DriverSettings Settings => new();

    public async Task InitializeAsync() => _driver = await DriverProcess.StartAsync(_workspace, Settings);

    public async Task DisposeAsync()
    {
        try
        {
            if (_driver is not null)
            {
                await _driver.StopAsync();
            }
        }
        finally
        {
            if (_driver is not null)
            {
                await _driver.DisposeAsync();
            }
            _workspace.Dispose();
        }
    }
}
