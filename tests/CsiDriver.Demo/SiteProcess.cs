using System.Diagnostics;
using System.Runtime.InteropServices;
using CsiDriver.Rpc;

namespace CsiDriver.Demo;

/// <summary>
/// One `csidriver serve` child process: a site of the demo. Its output goes to the site's log
/// file. <see cref="StopAsync"/> is the graceful stop (SIGTERM); <see cref="CrashAsync"/> is the
/// disaster: SIGKILL to the driver and its attach helpers, as if the site lost power.
/// </summary>
public sealed partial class SiteProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(20);
    private const int SigTerm = 15;

    private readonly Process _process;
    private bool _released;

    private SiteProcess(SiteLayout layout, SiteSettings settings, Process process)
    {
        Layout = layout;
        Settings = settings;
        _process = process;
        Client = new SiteClient(layout);
    }

    public SiteLayout Layout { get; }

    public SiteSettings Settings { get; }

    public SiteClient Client { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The command line that starts this site, for `--keep` and the report.</summary>
    public string CommandLine =>
        string.Join(' ', Settings.Command(Layout).Select(Quote));

    /// <summary>Starts the site with its output appended straight to its log file (through
    /// `sh -c exec`), so a site left running by --keep logs on after the demo is gone.</summary>
    public static async Task<SiteProcess> StartAsync(SiteLayout layout, SiteSettings settings, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("log=\"$1\"; shift; exec \"$@\" >>\"$log\" 2>&1");
        info.ArgumentList.Add("csidriver");
        info.ArgumentList.Add(layout.LogFile);
        foreach (var argument in settings.Command(layout))
        {
            info.ArgumentList.Add(argument);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("csidriver serve did not start");
        var site = new SiteProcess(layout, settings, process);
        try
        {
            await site.WaitUntilReadyAsync(cancellationToken);
            return site;
        }
        catch
        {
            await site.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGTERM and a bounded wait; true when the site stopped by itself.</summary>
    public async Task<bool> StopAsync()
    {
        if (_process.HasExited)
        {
            return true;
        }
        _ = Kill(_process.Id, SigTerm);
        using var timeout = new CancellationTokenSource(StopTimeout);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            return _process.ExitCode == 0;
        }
        catch (OperationCanceledException)
        {
            await CrashAsync();
            return false;
        }
    }

    /// <summary>SIGKILL to the driver and every process it started.</summary>
    public async Task CrashAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync();
    }

    /// <summary>Ends the site if it still runs (SIGKILL); see <see cref="Release"/> to keep it.</summary>
    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_released && !_process.HasExited)
        {
            await CrashAsync();
        }
        _process.Dispose();
    }

    /// <summary>Lets the site outlive the demo (--keep): disposing no longer ends it.</summary>
    public void Release() => _released = true;

    /// <summary>The last lines of the site's log, for an error message.</summary>
    public string LogTail(int lines = 15)
    {
        try
        {
            using var reader = new StreamReader(new FileStream(Layout.LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            return string.Join('\n', reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(lines));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var lastAnswer = "no socket yet";
        while (clock.Elapsed < StartTimeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                throw new DemoException($"site {Layout.Name}: csidriver serve exited with code {_process.ExitCode}:\n{LogTail()}");
            }
            if (File.Exists(Layout.CsiSocket))
            {
                try
                {
                    if ((await Client.ProbeAsync()).Ready is not false)
                    {
                        return;
                    }
                    lastAnswer = "Probe said ready=false";
                }
                catch (RpcException e)
                {
                    lastAnswer = e.Message;
                }
            }
            await Task.Delay(100, cancellationToken);
        }
        throw new DemoException($"site {Layout.Name} not ready within {StartTimeout.TotalSeconds} s ({lastAnswer}):\n{LogTail()}");
    }

    private static string Quote(string argument) =>
        argument.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '$') ? "'" + argument.Replace("'", "'\\''") + "'" : argument;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
