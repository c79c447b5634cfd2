using System.Collections.Concurrent;
using CsiDriver.Engine;
using CsiDriver.Engine.Nbd;
using CsiDriver.Native;
using CsiDriver.Node.Fuse;
using CsiDriver.Sessions;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Node;

/// <summary>What attaching a volume produced: the loop device, and the FUSE mount whose one
/// file (the volume) the device is bound to.</summary>
public sealed record Attachment(string Device, string MountPoint);

/// <summary>How an attachment stands: serving and kept across a restart, serving but not kept
/// (a restart would end it), or lost (nothing serves it any more).</summary>
public enum AttachmentState
{
    Healthy,
    Unprotected,
    Lost,
}

/// <param name="Abnormal">What NodeGetVolumeStats reports as the volume condition.</param>
public sealed record AttachmentCondition(AttachmentState State, bool Abnormal, string Message);

/// <summary>
/// Attaches volumes as kernel block devices with no NBD hop: each attached volume is a FUSE
/// mount under the data directory (<c>attach/&lt;volume&gt;</c>) served by this process from
/// the engine (<see cref="FuseSession"/>), holding one file, with a loop device bound to it
/// (direct I/O). When a session holder is configured and the kernel can resend requests, every
/// session's device descriptor is also handed to the holder, so the kernel keeps the
/// connection through a csidriver restart and the next csidriver takes it back
/// (<see cref="ResumeAsync"/>). Owns the sessions this process serves.
/// </summary>
public sealed partial class VolumeAttacher(string attachDirectory, SessionHolderClient? holder, ILogger<VolumeAttacher> log)
{
    /// <summary>How long a detach waits for the kernel to let go of a released loop device's file
    /// before unmounting its FUSE mount lazily.</summary>
    private static readonly TimeSpan UnmountPatience = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, FuseSession> _sessions = new(StringComparer.Ordinal);
    private bool _warnedNoResend;

    public string AttachDirectory { get; } = Path.GetFullPath(attachDirectory);

    /// <summary>True while some session this process serves would not survive its exit; the
    /// host then writes back staged file systems before csidriver stops.</summary>
    public bool ServesUnprotectedSessions => _sessions.Values.Any(s => !IsProtected(s));

    /// <summary>The engine device an attachment of a volume serves: the volume, or a read-only
    /// view of it; null when the volume is gone.</summary>
    public static IBlockDevice? EngineDevice(StorageEngine engine, string volumeId, bool readOnly) =>
        engine.FindVolume(volumeId) is { } volume ? (readOnly ? new ReadOnlyBlockDevice(volume) : volume) : null;

    public async Task<Attachment> AttachAsync(string volumeId, IBlockDevice device, bool readOnly, CancellationToken cancellationToken)
    {
        var mountPoint = MountPointOf(volumeId);
        var session = await FuseSession.MountAsync(volumeId, mountPoint, device, readOnly, log, cancellationToken);
        _sessions[mountPoint] = session;
        try
        {
            Protect(session);
            var loop = LoopDevice.Attach(session.FilePath, readOnly);
            LogAttached(volumeId, loop, mountPoint, IsProtected(session) ? "kept by the session holder" : "not kept across a restart");
            return new Attachment(loop, mountPoint);
        }
        catch
        {
            await ReleaseSessionAsync(mountPoint, UnmountPatience);
            throw;
        }
    }

    /// <summary>Releases the loop device (when it is still bound to this attachment's file), ends
    /// the FUSE session and unmounts it. Parts already gone are skipped, so a half-made or lost
    /// attachment is cleaned up the same way.</summary>
    public async Task DetachAsync(Attachment attachment)
    {
        if (IsBoundTo(attachment.Device, attachment.MountPoint))
        {
            LoopDevice.Detach(attachment.Device);
        }
        await ReleaseSessionAsync(attachment.MountPoint, UnmountPatience);
        LogDetached(attachment.Device, attachment.MountPoint);
    }

    /// <summary>Makes the attached device show the volume's current size (after the controller
    /// grew it) while in use: the loop device asks the file's size again, and this process
    /// answers with the volume's. A lost attachment has nothing to show it to.</summary>
    public void Refresh(Attachment attachment)
    {
        if (Condition(attachment).State != AttachmentState.Lost)
        {
            LoopDevice.RefreshCapacity(attachment.Device);
        }
    }

    public AttachmentCondition Condition(Attachment attachment)
    {
        if (!_sessions.TryGetValue(attachment.MountPoint, out var session) || session.HasEnded)
        {
            return new(AttachmentState.Lost, true,
                $"the FUSE session serving {attachment.Device} ended with an earlier csidriver run (no session holder kept it); stage the volume again to repair it");
        }
        if (!IsBoundTo(attachment.Device, attachment.MountPoint))
        {
            return new(AttachmentState.Lost, true, $"{attachment.Device} is no longer bound to the volume's file; stage the volume again to repair it");
        }
        if (holder is null)
        {
            return new(AttachmentState.Unprotected, false,
                "attached and healthy; no session holder is configured (--session-holder), so a csidriver restart ends this attachment");
        }
        if (session.Terms?.KernelResends != true)
        {
            return new(AttachmentState.Unprotected, false,
                "attached and healthy; this kernel cannot resend FUSE requests (FUSE_HAS_RESEND, Linux 6.9 and later), so a csidriver restart ends this attachment");
        }
        if (!holder.IsHolding(session.MountPoint))
        {
            return new(AttachmentState.Unprotected, true,
                $"attached, but the session holder at {holder.SocketPath} does not keep this FUSE session (it stopped or restarted): a csidriver restart now would break the volume's I/O; once the holder runs, stage the volume again to repair it");
        }
        return new(AttachmentState.Healthy, false, "attached and healthy; kept across csidriver restarts by the session holder");
    }

    /// <summary>Hands an attachment's session to the session holder again (after the holder was
    /// restarted); throws when the holder cannot take it.</summary>
    public void Protect(Attachment attachment)
    {
        if (_sessions.TryGetValue(attachment.MountPoint, out var session))
        {
            Protect(session);
            if (holder is not null && session.Terms?.KernelResends == true && !holder.IsHolding(session.MountPoint))
            {
                throw new IOException($"the session holder at {holder.SocketPath} does not answer; start it and stage the volume again");
            }
        }
    }

    /// <summary>Stops serving every session: requests already read are answered, nothing more is
    /// read. Sessions the holder keeps wait for the next csidriver; the others end.</summary>
    public async Task StopAsync()
    {
        await Task.WhenAll(_sessions.Values.Select(s => s.StopAsync()));
        _sessions.Clear();
        holder?.Dispose();
    }

    private void Protect(FuseSession session)
    {
        if (holder is null)
        {
            return;
        }
        if (session.Terms?.KernelResends != true)
        {
            if (!_warnedNoResend)
            {
                _warnedNoResend = true;
                LogNoResend(session.VolumeId);
            }
            return;
        }
        try
        {
            holder.Hold(session.MountPoint, session.Ticket.Encode(), session.Device);
        }
        catch (IOException e)
        {
            LogNotHeld(session.VolumeId, holder.SocketPath, e.Message);
        }
    }

    private bool IsProtected(FuseSession session) => holder?.IsHolding(session.MountPoint) == true;

    private string MountPointOf(string volumeId) => Path.Combine(AttachDirectory, volumeId);

    /// <summary>True when <paramref name="device"/> is a loop device bound to the file of the FUSE
    /// mount at <paramref name="mountPoint"/>: by the file system's device number and the inode,
    /// so a reused device name is never taken for ours — or, when the mount's session is dead
    /// and cannot tell the kernel its file's attributes, by the path sysfs gives for the file.</summary>
    private static bool IsBoundTo(string device, string mountPoint)
    {
        if (MountTable.Find(mountPoint) is not { FsType: FuseSession.MountType } mount)
        {
            return false;
        }
        try
        {
            return LoopDevice.BindingOf(device) is { } binding
                && $"{binding.FileSystemMajor}:{binding.FileSystemMinor}" == mount.Device
                && binding.Inode == VolumeFileSystem.FileNodeId;
        }
        catch (NativeException)
        {
            return LoopDevice.BackingFile(device) == Path.Combine(mountPoint, VolumeFileSystem.FileName);
        }
    }

    /// <summary>Ends the session at <paramref name="mountPoint"/> in this process and in the holder,
    /// and unmounts it: waiting up to <paramref name="patience"/> for a released loop device to
    /// let go of the file, then detaching the mount lazily.</summary>
    private async Task ReleaseSessionAsync(string mountPoint, TimeSpan patience)
    {
        if (_sessions.TryRemove(mountPoint, out var session))
        {
            await session.StopAsync();
        }
        var giveUp = DateTime.UtcNow + patience;
        while (MountTable.Find(mountPoint) is { FsType: FuseSession.MountType })
        {
            var lazy = DateTime.UtcNow >= giveUp;
            try
            {
                Mounter.Unmount(mountPoint, lazy);
            }
            catch (IOException) when (!lazy)
            {
                await Task.Delay(20); // the released loop device still holds the file: EBUSY
            }
        }
        holder?.Release(mountPoint);
        if (Directory.Exists(mountPoint) && !Directory.EnumerateFileSystemEntries(mountPoint).Any())
        {
            Directory.Delete(mountPoint);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "attached volume {VolumeId} as {Device} over FUSE at {MountPoint} ({Protection})")]
    private partial void LogAttached(string volumeId, string device, string mountPoint, string protection);

    [LoggerMessage(Level = LogLevel.Information, Message = "detached {Device} and its FUSE session at {MountPoint}")]
    private partial void LogDetached(string device, string mountPoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "this kernel does not offer FUSE_HAS_RESEND (Linux 6.9 and later): attachments such as volume {VolumeId}'s end when csidriver stops, as if no session holder were configured")]
    private partial void LogNoResend(string volumeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the session holder at {SocketPath} did not take the FUSE session of volume {VolumeId}: {Reason}; a csidriver restart would end this attachment")]
    private partial void LogNotHeld(string volumeId, string socketPath, string reason);
}
