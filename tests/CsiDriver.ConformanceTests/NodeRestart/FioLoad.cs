using System.Diagnostics;
using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.ConformanceTests.NodeRestart;

/// <summary>
/// Background I/O on a block device region: fio, 1 MiB random writes with O_DIRECT at queue depth
/// 16 (large, so each keeps csidriver busy a while), so that csidriver often holds requests it
/// has read and not yet answered — the requests a crash leaves for the kernel to resend. fio stops at its first I/O error, so a fio
/// still running at <see cref="StopAsync"/> saw none. Bounded: it runs at most ten minutes.
/// </summary>
public sealed class FioLoad : IAsyncDisposable
{
    private static readonly TimeSpan StopPatience = TimeSpan.FromSeconds(60);

    private readonly Process _fio;
    private readonly Task<string> _output;
    private readonly Task<string> _errors;
    private bool _disposed;

    private FioLoad(Process fio)
    {
        _fio = fio;
        _output = fio.StandardOutput.ReadToEndAsync();
        _errors = fio.StandardError.ReadToEndAsync();
    }

    public static FioLoad Start(string device, long offset, long length)
    {
        var info = new ProcessStartInfo("fio") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
        {
            "--name=load", $"--filename={device}", "--ioengine=libaio", "--direct=1", "--rw=randwrite", "--bs=1m",
            "--iodepth=16", $"--offset={offset}", $"--size={length}", "--time_based", "--runtime=600",
        })
        {
            info.ArgumentList.Add(argument);
        }
        var fio = Process.Start(info) ?? throw new InvalidOperationException("could not start fio; run `make test-deps`");
        return new FioLoad(fio);
    }

    /// <summary>Stops fio, asserting it was still running: it met no I/O error.</summary>
    public async Task StopAsync()
    {
        if (_fio.HasExited)
        {
            Assert.Fail($"fio stopped by itself (exit {_fio.ExitCode}): {await _output} {await _errors}");
        }
        await DisposeAsync();
    }

    /// <summary>Stops fio with SIGTERM, on which it ends its job and waits for it: the job is a
    /// process of its own holding the device open, and a SIGKILL ends only the parent, leaving
    /// the job writing a while longer, so the unpublish after failed with EBUSY and the test
    /// left the volume published. Killed, the whole tree, only if it does not stop.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (!_fio.HasExited)
        {
            Signals.Send(_fio.Id, Signals.SigTerm);
        }
        try
        {
            await _fio.WaitForExitAsync().WaitAsync(StopPatience);
        }
        catch (TimeoutException)
        {
            _fio.Kill(entireProcessTree: true);
            await _fio.WaitForExitAsync();
        }
        _fio.Dispose();
    }
}
