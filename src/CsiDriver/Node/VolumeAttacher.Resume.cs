using CsiDriver.Engine;
using CsiDriver.Node.Fuse;
using CsiDriver.State;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Node;

public sealed partial class VolumeAttacher
{
    /// <summary>
    /// At start, before the node serves calls: takes back from the session holder the sessions of
    /// this data directory, serves again each one a staged volume's device is still bound to
    /// (the kernel then resends what the previous csidriver left unanswered), and releases
    /// everything under this data directory's attach directory that no staged volume needs —
    /// sessions, FUSE mounts, the loop devices bound to them and anything mounted from those.
    /// An attachment a staged volume still names but nothing serves (it ended with the previous
    /// run) is left for NodeStageVolume to repair or NodeUnstageVolume to remove. Nothing outside
    /// this attach directory is touched: other drivers' attachments are not ours.
    /// </summary>
    /// <param name="openDevice">The engine device of a volume id (read-only view when asked), or null when it is gone.</param>
    public async Task ResumeAsync(IReadOnlyList<StagingRecord> stagings, Func<string, bool, IBlockDevice?> openDevice)
    {
        var prefix = AttachDirectory + "/";
        var held = holder?.TakeBack(prefix) ?? [];
        foreach (var session in held)
        {
            var ticket = SessionTicket.Decode(session.Ticket);
            var staging = stagings.FirstOrDefault(s => s.VolumeId == ticket?.VolumeId && s.FuseDirectory == ticket.MountPoint);
            if (ticket is not null && ticket.MountPoint == session.Name && staging is not null
                && IsBoundTo(staging.Device, ticket.MountPoint) && openDevice(ticket.VolumeId, ticket.ReadOnly) is { } device)
            {
                try
                {
                    _sessions[ticket.MountPoint] = FuseSession.Resume(ticket, session.Descriptor, device, log);
                    LogResumed(ticket.VolumeId, staging.Device);
                    continue;
                }
                catch (FuseConnectionEndedException)
                {
                    // The kernel ended it meanwhile (aborted): a lost attachment, like any other.
                }
            }
            session.Descriptor.Dispose();
        }

        foreach (var mount in MountTable.Read().Where(m => m.FsType == FuseSession.MountType && m.MountPoint.StartsWith(prefix, StringComparison.Ordinal)))
        {
            if (_sessions.ContainsKey(mount.MountPoint))
            {
                continue;
            }
            if (stagings.FirstOrDefault(s => s.FuseDirectory == mount.MountPoint) is { } lost && IsBoundTo(lost.Device, mount.MountPoint))
            {
                LogLost(lost.VolumeId, lost.Device);
                continue;
            }
            foreach (var loop in LoopsBoundTo(mount))
            {
                foreach (var user in MountTable.Read().Where(m => m.Source == loop).Reverse())
                {
                    Mounter.Unmount(user.MountPoint, lazy: true);
                }
                LoopDevice.Detach(loop);
                LogReleasedLoop(loop, mount.MountPoint);
            }
            await ReleaseSessionAsync(mount.MountPoint);
            LogReleasedLeftover(mount.MountPoint);
        }

        foreach (var session in held.Where(s => !_sessions.ContainsKey(s.Name)))
        {
            holder?.Release(session.Name);
        }
    }

    /// <summary>Loop devices bound to the file of <paramref name="mount"/>: found by the path sysfs
    /// gives for their backing file, confirmed by device number and inode.</summary>
    private static IEnumerable<string> LoopsBoundTo(MountEntry mount) =>
        LoopDevice.All()
            .Where(loop => BackingFile(loop)?.StartsWith(mount.MountPoint + "/", StringComparison.Ordinal) == true)
            .Where(loop => IsBoundTo(loop, mount.MountPoint))
            .ToList();

    private static string? BackingFile(string loop)
    {
        try
        {
            return File.ReadAllText($"/sys/block/{Path.GetFileName(loop)}/loop/backing_file").Trim();
        }
        catch (IOException)
        {
            return null; // not bound (the file exists only while the device is)
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "serving volume {VolumeId} on {Device} again: its FUSE session was kept by the session holder")]
    private partial void LogResumed(string volumeId, string device);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the attachment of volume {VolumeId} ({Device}) ended with the previous csidriver run; stage the volume again to repair it")]
    private partial void LogLost(string volumeId, string device);

    [LoggerMessage(Level = LogLevel.Warning, Message = "released {Device}, bound to {MountPoint} though no staged volume uses it")]
    private partial void LogReleasedLoop(string device, string mountPoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "released the FUSE mount {MountPoint}: no staged volume uses it")]
    private partial void LogReleasedLeftover(string mountPoint);
}
