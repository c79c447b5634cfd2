using System.Diagnostics;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>
/// A running `csidriver session-holder` on a workspace's holder socket, started by the test
/// (as its own container would be in the node pod), so killing csidriver never takes it along.
/// </summary>
public sealed class SessionHolderProcess : IAsyncDisposable
{
    /// <summary>A guard against a process that never gets ready, not a speed goal: with several
    /// test processes on two loaded cores, .NET's start alone has taken over 20 s.</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);

    private readonly Process _process;

    private SessionHolderProcess(Process process, ProcessOutput output)
    {
        _process = process;
        Output = output;
    }

    public ProcessOutput Output { get; }

    public int Pid => _process.Id;

    public static async Task<SessionHolderProcess> StartAsync(DriverWorkspace workspace)
    {
        var output = new ProcessOutput();
        var holder = new SessionHolderProcess(DriverCommand.Start(["session-holder", "--socket", workspace.HolderSocketPath], output), output);
        try
        {
            await output.WaitForLineAsync(line => line.Contains("session holder listening", StringComparison.Ordinal),
                "saying the session holder listens", StartTimeout);
            return holder;
        }
        catch
        {
            await holder.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGKILL: the holder ends as a crash would end it, closing every descriptor it kept.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Signals.Send(_process.Id, Signals.SigTerm);
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(patience.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
    }
}
