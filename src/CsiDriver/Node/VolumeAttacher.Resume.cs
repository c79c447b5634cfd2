using CsiDriver.Engine;
using CsiDriver.Node.Fuse;
using CsiDriver.Sessions;
using CsiDriver.State;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Node;

public sealed partial class VolumeAttacher
{
    /// <summary>
    /// At start, before the node serves calls: takes back from the session holder the sessions of
    /// this data directory and serves them all again at once (the kernel then resends what the
    /// previous csidriver left unanswered; until they are served, any request to them — even the
    /// kernel's own question of what a loop device is bound to — waits). Then keeps those a staged
    /// volume's device is still bound to, and releases every other attachment under this data
    /// directory's attach directory: its FUSE mount, the loop devices bound to it, and — when no
    /// staged volume names it — what is mounted from those devices. An attachment a staged volume
    /// names but nothing serves (it ended with the previous run) is dead for good: its loop
    /// device is released (the kernel lets it go once the file systems on it are unmounted) and
    /// its staging stays, reported lost, for NodeStageVolume to repair or NodeUnstageVolume to
    /// remove. Nothing outside this attach directory is touched: other drivers' are not ours.
    /// </summary>
    public async Task ResumeAsync(IReadOnlyList<StagingRecord> stagings, StorageEngine engine)
    {
        var prefix = AttachDirectory + "/";
        foreach (var held in TakeBack(prefix))
        {
            if (SessionTicket.Decode(held.Ticket) is { } ticket && ticket.MountPoint == held.Name
                && EngineDevice(engine, ticket.VolumeId, ticket.ReadOnly) is { } device)
            {
                try
                {
                    _sessions[ticket.MountPoint] = FuseSession.Resume(ticket, held.Descriptor, device, log);
                    continue;
                }
                catch (FuseConnectionEndedException)
                {
                    // The kernel ended it meanwhile: dead, like a session no holder kept.
                }
            }
            // Unservable (its volume is gone, or the ticket is of another csidriver version): with
            // both copies closed the kernel ends it, so nothing waits on it.
            holder!.Release(held.Name);
            held.Descriptor.Dispose();
        }

        foreach (var (mountPoint, session) in _sessions.ToArray())
        {
            if (stagings.FirstOrDefault(s => s.FuseDirectory == mountPoint && s.VolumeId == session.VolumeId) is { } staging
                && IsBoundTo(staging.Device, mountPoint))
            {
                LogResumed(session.VolumeId, staging.Device);
                continue;
            }
            await ReleaseLeftoverAsync(mountPoint, lost: null);
        }

        foreach (var mount in MountTable.Read().Where(m => m.FsType == FuseSession.MountType && m.MountPoint.StartsWith(prefix, StringComparison.Ordinal)))
        {
            if (!_sessions.ContainsKey(mount.MountPoint))
            {
                var lost = stagings.FirstOrDefault(s => s.FuseDirectory == mount.MountPoint);
                if (lost is not null)
                {
                    LogLost(lost.VolumeId, lost.Device);
                }
                await ReleaseLeftoverAsync(mount.MountPoint, lost);
            }
        }
    }

    /// <summary>The sessions the holder keeps for this data directory; none when there is no
    /// holder or it cannot be reached (a start never fails over it: those sessions end).</summary>
    private IReadOnlyList<HeldSession> TakeBack(string prefix)
    {
        try
        {
            return holder?.TakeBack(prefix) ?? [];
        }
        catch (IOException e)
        {
            LogHolderUnreachable(holder!.SocketPath, e.Message);
            return [];
        }
    }

    /// <summary>Releases the loop devices bound to the FUSE mount at <paramref name="mountPoint"/>
    /// and the mount itself. What is mounted from those devices is unmounted too, unless a staged
    /// volume (<paramref name="lost"/>) names the attachment: its file systems stay until it is
    /// repaired or unstaged, since the repair finds the pods' mounts by them.</summary>
    private async Task ReleaseLeftoverAsync(string mountPoint, StagingRecord? lost)
    {
        foreach (var loop in LoopDevice.All().Where(loop => LoopDevice.BackingFile(loop)?.StartsWith(mountPoint + "/", StringComparison.Ordinal) == true))
        {
            if (!IsBoundTo(loop, mountPoint))
            {
                continue;
            }
            foreach (var user in lost is null ? MountTable.Read().Where(m => m.Source == loop).Reverse() : [])
            {
                Mounter.Unmount(user.MountPoint, lazy: true);
            }
            LoopDevice.Detach(loop);
            LogReleasedLoop(loop, mountPoint);
        }
        // A loop device still in use lets go of the file only later: no waiting at start.
        await ReleaseSessionAsync(mountPoint, TimeSpan.Zero);
        LogReleasedLeftover(mountPoint);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "the session holder at {SocketPath} could not be asked for the sessions it keeps: {Reason}; attachments it kept are lost")]
    private partial void LogHolderUnreachable(string socketPath, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "serving volume {VolumeId} on {Device} again: its FUSE session was kept by the session holder")]
    private partial void LogResumed(string volumeId, string device);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the attachment of volume {VolumeId} ({Device}) ended with the previous csidriver run; stage the volume again to repair it")]
    private partial void LogLost(string volumeId, string device);

    [LoggerMessage(Level = LogLevel.Warning, Message = "released {Device}, bound to {MountPoint} which no staged volume uses any more")]
    private partial void LogReleasedLoop(string device, string mountPoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "released the FUSE mount {MountPoint}: no staged volume uses it any more")]
    private partial void LogReleasedLeftover(string mountPoint);
}
