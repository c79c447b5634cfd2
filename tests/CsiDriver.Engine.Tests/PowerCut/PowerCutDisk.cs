using System.Collections.Concurrent;
using System.Diagnostics;
using CsiDriver.Engine.Tests.Nbd;

namespace CsiDriver.Engine.Tests.PowerCut;

/// <summary>
/// A disk that can lose power: a loop device (and on it, unless asked otherwise, an ext4 file
/// system mounted at <see cref="Path"/>) whose every request goes to a userspace server that
/// keeps only what was flushed to it.
/// <code>
/// ext4 ─▶ /dev/loopN (direct I/O) ─▶ FUSE file (nbdfuse) ─▶ NBD ─▶ nbdkit: log ─▶ cache (writeback) ─▶ file plugin ─▶ backing file
/// </code>
/// Why each piece, and why the model is faithful:
/// <list type="bullet">
/// <item>nbdkit's cache filter in <c>cache=writeback</c> holds every write in its own
/// temporary file and writes it to the plugin only when a client's NBD_CMD_FLUSH arrives (all
/// connections' writes at once: it advertises multi-conn), or at once for a FUA write. The
/// temporary file is unlinked, so SIGKILL to nbdkit loses exactly what no flush covered: a
/// power cut. The backing file then holds the disk as it was at the last flush (or, for a cut
/// during a flush, part of the way to it: also what a real disk may hold).</item>
/// <item>nbdfuse turns the FUSE file's fsync into NBD_CMD_FLUSH (and plain writes into plain
/// NBD writes); the loop device advertises a volatile write cache without FUA, so the block
/// layer sends every REQ_PREFLUSH, and every FUA write as a write plus a flush, to the loop
/// driver, which turns them into fsync of the FUSE file. With <c>--direct-io=on</c> the loop
/// device's writes bypass the FUSE file's page cache, so an acknowledged write has reached
/// nbdkit; nothing of ours sits in the data path.</item>
/// <item>The cache filter does not take TRIM (it would reach the backing file at once), so the
/// file system is made without discard and mounted with <c>nodiscard</c>; the log filter, first
/// in the chain, sees every client request, and <see cref="CutAsync"/> reports any TRIM so a
/// test can refuse a cut the model does not describe.</item>
/// </list>
/// <see cref="CutAsync"/> kills nbdkit; <see cref="RestoreAsync"/> takes the dead stack down
/// (the file system unmounts with write errors, as after a real cut) and powers the disk on
/// again over the same backing file, so mounting replays ext4's journal. Everything lives under
/// a temp directory of its own; disposing unmounts and detaches only what this disk made.
/// </summary>
internal sealed class PowerCutDisk : IAsyncDisposable
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(60);
    private readonly string _root;
    private readonly bool _fileSystem;
    private Process? _server;
    private Process? _fuse;
    private readonly ConcurrentQueue<string> _errors = new();
    private int _powerOns;

    private PowerCutDisk(string root, bool fileSystem)
    {
        _root = root;
        _fileSystem = fileSystem;
        Directory.CreateDirectory(FuseDirectory);
        Directory.CreateDirectory(Path);
    }

    /// <summary>Where the file system is mounted.</summary>
    public string Path => System.IO.Path.Combine(_root, "mnt");

    /// <summary>The loop device, while powered.</summary>
    public string Device { get; private set; } = "";

    private string BackingFile => System.IO.Path.Combine(_root, "backing");

    private string Socket => System.IO.Path.Combine(_root, "nbd.sock");

    private string FuseDirectory => System.IO.Path.Combine(_root, "fuse");

    private string FuseFile => System.IO.Path.Combine(FuseDirectory, "disk");

    private string RequestLog => System.IO.Path.Combine(_root, $"requests-{_powerOns}.log");

    /// <summary>A new disk of <paramref name="sizeBytes"/>, powered on, with a fresh ext4 file
    /// system mounted at <see cref="Path"/> (or, without <paramref name="fileSystem"/>, only the
    /// raw <see cref="Device"/>).</summary>
    public static async Task<PowerCutDisk> CreateAsync(long sizeBytes, bool fileSystem = true)
    {
        var disk = new PowerCutDisk(Directory.CreateTempSubdirectory("formation-powercut-").FullName, fileSystem);
        try
        {
            using (var backing = File.Create(disk.BackingFile))
            {
                backing.SetLength(sizeBytes);
            }
            await disk.PowerOnAsync(format: fileSystem);
            return disk;
        }
        catch
        {
            await disk.DisposeAsync();
            throw;
        }
    }

    /// <summary>Cuts the power: SIGKILL to the server, so every write no flush covered is
    /// gone. The file system stays mounted on a dead device until <see cref="RestoreAsync"/>;
    /// stop whatever uses it first.</summary>
    public async Task<DeviceRequests> CutAsync()
    {
        var server = _server ?? throw new InvalidOperationException("the disk is not powered");
        server.Kill();
        await server.WaitForExitAsync();
        _server = null;
        return DeviceRequests.Read(RequestLog);
    }

    /// <summary>Flushes the whole file system (syncfs), whatever its writers did or did not sync.</summary>
    public Task SyncAsync() => ExternalTool.RunAsync("sync", ["-f", Path], ToolTimeout);

    /// <summary>Takes down what the cut left (file system, loop device, FUSE file) and powers
    /// the disk on again: the file system mounts from what the last flushes kept.</summary>
    public async Task RestoreAsync()
    {
        await PowerOffAsync();
        await PowerOnAsync(format: false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await PowerOffAsync();
        }
        finally
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private async Task PowerOnAsync(bool format)
    {
        _powerOns++;
        File.Delete(Socket);
        var server = new ProcessStartInfo(ExternalTool.Require("nbdkit"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment = { ["TMPDIR"] = _root }, // the cache's (unlinked) file
        };
        foreach (var argument in new[]
        {
            "--foreground", "--exit-with-parent", "--unix", Socket,
            "--filter=log", "--filter=cache", "file", "file=" + BackingFile,
            "cache=writeback", "logfile=" + RequestLog,
        })
        {
            server.ArgumentList.Add(argument);
        }
        _server = StartDrained(server);
        await WaitForAsync(() => File.Exists(Socket), "nbdkit's socket");

        _fuse = StartDrained(new ProcessStartInfo(ExternalTool.Require("nbdfuse"))
        {
            ArgumentList = { FuseFile, $"nbd+unix:///?socket={Socket}" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        });
        await WaitForAsync(() => File.Exists(FuseFile), "nbdfuse's file");

        Device = (await ExternalTool.RunAsync("losetup", ["--find", "--show", "--direct-io=on", FuseFile], ToolTimeout)).Trim();
        if (!_fileSystem)
        {
            return;
        }
        if (format)
        {
            await ExternalTool.RunAsync("mkfs.ext4",
                ["-q", "-F", "-b", "4096", "-m", "0", "-E", "nodiscard,lazy_itable_init=0,lazy_journal_init=0", Device], ToolTimeout);
        }
        await ExternalTool.RunAsync("mount", ["-o", "nodiscard", Device, Path], ToolTimeout);
    }

    /// <summary>Unmounts, detaches and stops what this disk made, whatever state it is in.</summary>
    private async Task PowerOffAsync()
    {
        if (_fileSystem && await IsMountedAsync(Path))
        {
            var unmounted = await ExternalTool.TryRunAsync("umount", [Path], ToolTimeout);
            if (unmounted.ExitCode != 0)
            {
                // Still open somewhere (a test that failed half-way): detach it now, the kernel
                // finishes once the last file closes.
                await ExternalTool.RunAsync("umount", ["--lazy", Path], ToolTimeout);
            }
        }
        if (Device.Length > 0)
        {
            await ExternalTool.TryRunAsync("losetup", ["--detach", Device], ToolTimeout);
            Device = "";
        }
        await UnmountFuseAsync();
        await StopAsync(_fuse);
        _fuse = null;
        if (_server is { } server)
        {
            server.Kill(); // nothing uses the disk any more
            await StopAsync(server);
            _server = null;
        }
    }

    /// <summary>Unmounts the FUSE file. A detach while someone else still has the loop device
    /// open (udev probing it after a write, say) only marks it for release at the last close, and
    /// until then the loop device holds the FUSE file and the unmount fails busy: retried for a
    /// while, then detached lazily. Left mounted, nbdfuse would be stopped under its mount, the
    /// dead mount would stay, and the next power-on's nbdfuse could not mount there ("nbdfuse's
    /// file did not appear").</summary>
    private async Task UnmountFuseAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (await IsMountedAsync(FuseDirectory))
        {
            var lazy = DateTime.UtcNow > deadline;
            await ExternalTool.TryRunAsync("fusermount3", lazy ? ["-u", "-z", FuseDirectory] : ["-u", FuseDirectory], ToolTimeout);
            if (lazy)
            {
                return;
            }
            await Task.Delay(100);
        }
    }

    /// <summary>Starts a tool with its output read (and its error lines kept for <see cref="WaitForAsync"/>'s message).</summary>
    private Process StartDrained(ProcessStartInfo start)
    {
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
        var name = System.IO.Path.GetFileName(start.FileName);
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                _errors.Enqueue($"{name}: {line}");
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task StopAsync(Process? process)
    {
        if (process is null)
        {
            return;
        }
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            if (!process.HasExited)
            {
                await process.WaitForExitAsync(grace.Token);
            }
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        process.Dispose();
    }

    private static async Task<bool> IsMountedAsync(string path) =>
        (await File.ReadAllLinesAsync("/proc/self/mountinfo")).Any(line => line.Split(' ')[4] == path);

    private async Task WaitForAsync(Func<bool> ready, string what)
    {
        var deadline = DateTime.UtcNow + ToolTimeout;
        while (!ready())
        {
            if (_server is { HasExited: true } || _fuse is { HasExited: true } || DateTime.UtcNow > deadline)
            {
                var exited = string.Join(", ", new[] { _server, _fuse }.OfType<Process>().Where(p => p.HasExited).Select(p => $"{p.StartInfo.FileName} exited with {p.ExitCode}"));
                throw new InvalidOperationException($"{what} did not appear under {_root} ({exited}; {string.Join(" | ", _errors)})");
            }
            await Task.Delay(10);
        }
    }
}
