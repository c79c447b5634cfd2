using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.ConformanceTests.NodeRestart;

/// <summary>
/// A node as deploy/ runs it: a session holder (started by the test, as its own container would
/// be, so killing csidriver never takes it along) and csidriver serving with it, on one
/// workspace, restarted in place. <see cref="Driver"/> is always the process running now, so a
/// finally block disposes the right one.
/// </summary>
public sealed class RestartableNode : IAsyncDisposable
{
    private static readonly DriverSettings WithHolder = new() { SessionHolder = true };

    private int _resentBefore;

    private RestartableNode(DriverWorkspace workspace, SessionHolderProcess holder, DriverProcess driver)
    {
        Workspace = workspace;
        Holder = holder;
        Driver = driver;
    }

    public DriverWorkspace Workspace { get; }

    public SessionHolderProcess Holder { get; private set; }

    public DriverProcess Driver { get; private set; }

    public CsiClient Csi => Driver.Csi;

    public static async Task<RestartableNode> StartAsync()
    {
        NodeSteps.RequireKernelPath();
        var workspace = DriverWorkspace.Create();
        var holder = await SessionHolderProcess.StartAsync(workspace);
        var driver = await DriverProcess.StartAsync(workspace, WithHolder);
        return new RestartableNode(workspace, holder, driver);
    }

    /// <summary>Stops csidriver gracefully (SIGTERM, asserting a clean exit) or as a crash
    /// (SIGKILL), then starts it again on the same flags and data directory.</summary>
    public async Task RestartAsync(bool crash)
    {
        await (crash ? Driver.CrashAsync() : Driver.StopAsync());
        _resentBefore += ResentBy(Driver);
        await Driver.DisposeAsync();
        Driver = await DriverProcess.StartAsync(Workspace, WithHolder);
    }

    /// <summary>FUSE requests the kernel resent (FUSE_NOTIFY_RESEND) because a killed csidriver
    /// had read them and not answered, as every csidriver run so far logged them.</summary>
    public int ResentRequests => _resentBefore + ResentBy(Driver);

    /// <summary>Kills the session holder (SIGKILL), as a crash would end it.</summary>
    public Task KillHolderAsync() => Holder.KillAsync();

    /// <summary>Starts a new session holder in place of the killed one.</summary>
    public async Task StartHolderAsync()
    {
        await Holder.DisposeAsync();
        Holder = await SessionHolderProcess.StartAsync(Workspace);
    }

    private static int ResentBy(DriverProcess driver) =>
        driver.Output.StandardOutput.Count(line => line.Contains("was resent by the kernel", StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        await Driver.DisposeAsync();
        await Holder.DisposeAsync();
        Workspace.Dispose();
    }
}
