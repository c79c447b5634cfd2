using System.Diagnostics;
using System.Globalization;
using CsiDriver.Engine.Nbd;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Node;

/// <summary>What attaching a volume produced: the block device and what keeps it alive.</summary>
public sealed record Attachment(string Device, string FuseDirectory, int HelperPid);

/// <summary>
/// Attaches a volume's NBD export as a kernel block device without the nbd kernel module:
/// nbdfuse exposes the export as one file in a FUSE mount, and a loop device is bound to that
/// file. Every read and write of the loop device goes through FUSE to nbdfuse, over the NBD
/// socket, into the engine.
/// </summary>
public sealed partial class FuseLoopAttacher(string attachDirectory, NbdEndpoint nbd, ILogger<FuseLoopAttacher> log)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    /// <summary>The file nbdfuse creates inside its mount directory.</summary>
    private const string ExportFileName = "nbd";

    public async Task<Attachment> AttachAsync(string volumeId, bool readOnly, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(attachDirectory, volumeId);
        Directory.CreateDirectory(directory);
        await ReleaseFuseAsync(directory, helperPid: 0, cancellationToken);
        var pidFile = directory + ".pid";
        File.Delete(pidFile);

        var info = new ProcessStartInfo("nbdfuse") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        if (readOnly)
        {
            info.ArgumentList.Add("-r");
        }
        foreach (var argument in new[] { "-P", pidFile, directory, ExportUri(volumeId) })
        {
            info.ArgumentList.Add(argument);
        }
        var helper = Process.Start(info) ?? throw new InvalidOperationException("could not start nbdfuse");
        var stderr = helper.StandardError.ReadToEndAsync(CancellationToken.None);
        _ = helper.StandardOutput.ReadToEndAsync(CancellationToken.None);

        var exportFile = Path.Combine(directory, ExportFileName);
        var deadline = Stopwatch.StartNew();
        while (!File.Exists(pidFile) || !File.Exists(exportFile))
        {
            if (helper.HasExited)
            {
                throw new IOException($"nbdfuse could not attach export '{volumeId}': {(await stderr).Trim()}");
            }
            if (deadline.Elapsed > StartTimeout)
            {
                helper.Kill();
                throw new TimeoutException($"nbdfuse did not expose export '{volumeId}' within {StartTimeout.TotalSeconds} s");
            }
            await Task.Delay(20, cancellationToken);
        }
        _ = stderr.ContinueWith(t => { if (t.Result.Length > 0) { LogHelperOutput(volumeId, t.Result.Trim()); } }, TaskScheduler.Default);

        try
        {
            string[] losetup = readOnly ? ["--read-only", "--find", "--show", exportFile] : ["--find", "--show", exportFile];
            var device = (await ExternalCommand.RunAsync("losetup", losetup, cancellationToken)).Trim();
            LogAttached(volumeId, device, helper.Id);
            return new Attachment(device, directory, helper.Id);
        }
        catch
        {
            await ReleaseFuseAsync(directory, helper.Id, CancellationToken.None);
            throw;
        }
    }

    /// <summary>Detaches the loop device and ends nbdfuse. Parts already gone are skipped, so a
    /// half-made or lost attachment is cleaned up the same way.</summary>
    public async Task DetachAsync(Attachment attachment, CancellationToken cancellationToken)
    {
        if (BackingFile(attachment.Device) == Path.Combine(attachment.FuseDirectory, ExportFileName))
        {
            await ExternalCommand.RunAsync("losetup", ["--detach", attachment.Device], cancellationToken);
        }
        await ReleaseFuseAsync(attachment.FuseDirectory, attachment.HelperPid, cancellationToken);
    }

    /// <summary>Null while the attachment works; otherwise why it does not.</summary>
    public string? Problem(Attachment attachment)
    {
        using var helper = LiveNbdfuse(attachment.HelperPid);
        if (helper is null)
        {
            return $"the nbdfuse process (pid {attachment.HelperPid}) serving {attachment.Device} is gone";
        }
        if (BackingFile(attachment.Device) != Path.Combine(attachment.FuseDirectory, ExportFileName))
        {
            return $"{attachment.Device} is no longer bound to the volume's export";
        }
        return null;
    }

    private string ExportUri(string volumeId) => nbd.UnixSocketPath is { } socket
        ? $"nbd+unix:///{Uri.EscapeDataString(volumeId)}?socket={socket}"
        : $"nbd://{nbd.Tcp}/{Uri.EscapeDataString(volumeId)}";

    private async Task ReleaseFuseAsync(string directory, int helperPid, CancellationToken cancellationToken)
    {
        if (MountTable.IsMountPoint(directory))
        {
            // Lazy: a lost attachment's file may still be held open by a loop device being torn down.
            await ExternalCommand.TryRunAsync("fusermount3", ["-u", "-z", directory], cancellationToken);
        }
        if (LiveNbdfuse(helperPid) is { } helper)
        {
            using (helper)
            {
                if (!helper.WaitForExit(TimeSpan.FromSeconds(5)))
                {
                    helper.Kill();
                }
            }
        }
        File.Delete(directory + ".pid");
    }

    /// <summary>The file a loop device reads and writes, from sysfs; null when unbound.</summary>
    private static string? BackingFile(string device)
    {
        var path = $"/sys/block/{Path.GetFileName(device)}/loop/backing_file";
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }

    /// <summary>The nbdfuse helper with that pid, or null when there is none: after the unmount it
    /// exits by itself, at any moment, including between the checks here.</summary>
    private static Process? LiveNbdfuse(int pid)
    {
        try
        {
            return pid > 0 && File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/comm").Trim() == "nbdfuse"
                ? Process.GetProcessById(pid)
                : null;
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "attached volume {VolumeId} as {Device} (nbdfuse pid {Pid})")]
    private partial void LogAttached(string volumeId, string device, int pid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "nbdfuse for volume {VolumeId} said: {Output}")]
    private partial void LogHelperOutput(string volumeId, string output);
}
