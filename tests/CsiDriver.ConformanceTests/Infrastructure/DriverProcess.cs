using System.Diagnostics;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>
/// One running `csidriver serve` (or `csidriver controller`) process on a workspace's socket,
/// with a CSI client to it.
/// <see cref="StopAsync"/> is the graceful stop a test asserts on (SIGTERM, exit code 0, socket
/// gone); disposing only makes sure no process outlives the test.
/// </summary>
public sealed class DriverProcess : IAsyncDisposable
{
    /// <summary>A guard against a process that never gets ready, not a speed goal: with several
    /// test processes on two loaded cores, .NET's start alone has taken over 20 s.</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);

    private readonly Process _process;
    private bool _stopped;
    private bool _disposed;

    private DriverProcess(Process process, DriverWorkspace workspace, string nodeId, ProcessOutput output)
    {
        _process = process;
        Workspace = workspace;
        NodeId = nodeId;
        Output = output;
        Csi = new CsiClient(workspace.SocketPath);
    }

    public DriverWorkspace Workspace { get; }

    public ProcessOutput Output { get; }

    public CsiClient Csi { get; }

    /// <summary>The node id it serves as (for a controller, a name for messages).</summary>
    public string NodeId { get; }

    public int ProcessId => _process.Id;

    public int Pid => _process.Id;

    /// <summary>True once the process has ended (a crash, if nobody stopped it).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Starts the driver without waiting for it to be ready.</summary>
    public static DriverProcess Launch(DriverWorkspace workspace, DriverSettings? settings = null)
    {
        settings ??= new DriverSettings();
        return Launch(workspace, settings.Arguments(workspace), settings.Launcher, settings.NodeId);
    }

    /// <summary>Starts csidriver with <paramref name="arguments"/>, serving CSI on the workspace's socket.</summary>
    public static DriverProcess Launch(DriverWorkspace workspace, IReadOnlyList<string> arguments, IReadOnlyList<string> launcher, string name)
    {
        var output = new ProcessOutput();
        var process = DriverCommand.Start(arguments, output, launcher: launcher);
        return new DriverProcess(process, workspace, name, output);
    }

    /// <summary>Starts the driver and waits (bounded) until Probe reports it ready.</summary>
    public static Task<DriverProcess> StartAsync(DriverWorkspace workspace, DriverSettings? settings = null) =>
        ReadyAsync(Launch(workspace, settings));

    /// <summary>Starts csidriver with <paramref name="arguments"/> and waits (bounded) until Probe reports it ready.</summary>
    public static Task<DriverProcess> StartAsync(DriverWorkspace workspace, IReadOnlyList<string> arguments, IReadOnlyList<string> launcher, string name) =>
        ReadyAsync(Launch(workspace, arguments, launcher, name));

    private static async Task<DriverProcess> ReadyAsync(DriverProcess driver)
    {
        try
        {
            await driver.WaitUntilReadyAsync();
            return driver;
        }
        catch
        {
            await driver.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGTERM, then a bounded wait; asserts the stop was clean.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }
        _stopped = true;
        Csi.Dispose();
        if (!_process.HasExited)
        {
            Signals.Send(_process.Id, Signals.SigTerm);
        }
        if (!await WaitForExitAsync(StopTimeout))
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            Assert.Fail($"csidriver did not exit within {StopTimeout.TotalSeconds} s of SIGTERM; output:\n{Output.AllText}");
        }
        Assert.True(_process.ExitCode == 0, $"csidriver exited with code {_process.ExitCode} after SIGTERM; output:\n{Output.AllText}");
        Assert.False(File.Exists(Workspace.SocketPath), $"socket {Workspace.SocketPath} still exists after a graceful stop");
    }

    /// <summary>SIGKILL, as a crash or an OOM kill would end the process: no graceful stop.</summary>
    public async Task CrashAsync()
    {
        _stopped = true;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _stopped = true;
        Csi.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancellation.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task WaitUntilReadyAsync()
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        string lastAnswer = "no socket yet";
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                Assert.Fail($"csidriver exited with code {_process.ExitCode} before it was ready; output:\n{Output.AllText}");
            }
            if (File.Exists(Workspace.SocketPath))
            {
                try
                {
                    // An absent `ready` means ready (spec: Probe).
                    var probe = await Csi.Probe(TimeSpan.FromSeconds(2));
                    if (probe.Ready is not false)
                    {
                        return;
                    }
                    lastAnswer = "Probe said ready=false";
                }
                catch (RpcException e)
                {
                    lastAnswer = e.ToString();
                }
            }
            await Task.Delay(50);
        }
        Assert.Fail($"csidriver not ready within {StartTimeout.TotalSeconds} s ({lastAnswer}); output:\n{Output.AllText}");
    }
}
