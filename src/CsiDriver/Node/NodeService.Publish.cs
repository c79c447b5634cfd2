using Csi.V1;
using CsiDriver.Csi;
using CsiDriver.Rpc;
using CsiDriver.State;
using Microsoft.Win32.SafeHandles;

namespace CsiDriver.Node;

public sealed partial class NodeService
{
    /// <summary>
    /// Bind-mounts the staged file system (mount volumes) or the staged device (block volumes)
    /// at the target path, creating the directory or file there, read-only when asked.
    /// Repeating it succeeds; the same target with other arguments is ALREADY_EXISTS.
    /// </summary>
    private Task<NodePublishVolumeResponse> NodePublishVolume(NodePublishVolumeRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeId, "volume_id");
        var targetPath = paths.Require(request.TargetPath, "target_path");
        VolumeCapabilities.RequireOne(request.VolumeCapability, "volume_capability");
        if (string.IsNullOrEmpty(request.StagingTargetPath))
        {
            throw new RpcException(StatusCode.FailedPrecondition, "staging_target_path is required: Formation stages volumes before publishing them");
        }
        var stagingPath = paths.Require(request.StagingTargetPath, "staging_target_path");
        using var _ = driver.Locks.Acquire("volume", request.VolumeId);
        var volume = RequireVolume(request.VolumeId);
        if (VolumeCapabilities.Mismatch(request.VolumeCapability, volume) is { } mismatch)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"volume_capability: {mismatch}");
        }
        if (driver.State.FindStaging(volume.Id) is not { } staged || staged.StagingPath != stagingPath)
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"volume '{volume.Id}' is not staged at {stagingPath}");
        }
        var readOnly = request.Readonly || staged.ReadOnly;

        if (driver.State.FindNodePublication(targetPath) is { } existing)
        {
            if (existing.VolumeId != volume.Id || existing.ReadOnly != readOnly)
            {
                throw new RpcException(StatusCode.AlreadyExists,
                    $"{targetPath} already publishes volume '{existing.VolumeId}' with read-only={existing.ReadOnly}");
            }
            return Task.FromResult(new NodePublishVolumeResponse());
        }
        if (MountTable.IsMountPoint(targetPath))
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"something the driver did not mount is already mounted at {targetPath}");
        }
        var publication = new NodePublicationRecord(targetPath, volume.Id, readOnly);
        Bind(publication, staged);
        driver.State.InsertNodePublication(publication);
        return Task.FromResult(new NodePublishVolumeResponse());
    }

    /// <summary>Unmounts the target path if the driver published there and removes the
    /// directory or file it created. A target that is not published succeeds.</summary>
    private Task<NodeUnpublishVolumeResponse> NodeUnpublishVolume(NodeUnpublishVolumeRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeId, "volume_id");
        var targetPath = paths.Require(request.TargetPath, "target_path");
        using var _ = driver.Locks.Acquire("volume", request.VolumeId);
        if (driver.State.FindNodePublication(targetPath) is not { } publication || publication.VolumeId != request.VolumeId)
        {
            return Task.FromResult(new NodeUnpublishVolumeResponse());
        }
        // Unmount only the mount the driver made: umount(2) takes the topmost one, so a mount
        // someone stacked on ours (or put below the target) is refused, and nothing is unmounted.
        // The target is held by its directory, and its mounts are looked up where the kernel
        // names that directory now, so a link swapped onto the path cannot hide our mount or
        // put another one in its place.
        var staged = driver.State.FindStaging(request.VolumeId);
        using var target = paths.Pin(targetPath, "target_path");
        var current = target.CurrentPath;
        var mounts = MountTable.At(current);
        if (mounts.FirstOrDefault(m => staged is null || !IsPublicationMount(m, current, staged)) is { } foreign)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"volume '{request.VolumeId}' cannot be unpublished from {targetPath}: {MountTable.Describe(foreign)} was not mounted by the driver; unmount it first");
        }
        for (var stacked = mounts.Count; stacked > 0; stacked--)
        {
            Mounter.Unmount(target); // the topmost each time
        }
        RemoveTarget(target);
        driver.State.DeleteNodePublication(targetPath);
        return Task.FromResult(new NodeUnpublishVolumeResponse());
    }

    /// <summary>The staged file system (or device, for a block volume) bound at the publication's
    /// target, which is made when missing. Both paths are held by their directories (see
    /// <see cref="PinnedPath"/>), so a link swapped onto either cannot move the mount or hand
    /// the pod something else.</summary>
    private void Bind(NodePublicationRecord publication, StagingRecord staged)
    {
        var block = staged.AccessType == AccessType.Block;
        using var target = paths.Pin(publication.TargetPath, "target_path");
        using var entry = CreateTarget(target, directory: !block);
        if (block)
        {
            Mounter.Bind(null, staged.Device, entry, publication.TargetPath, publication.ReadOnly);
            return;
        }
        using var staging = paths.Pin(staged.StagingPath, "staging_target_path");
        Mounter.Bind(staging.Directory, staging.Name, entry, publication.TargetPath, publication.ReadOnly);
    }

    /// <summary>After a repair: the pod's target, still bound to the lost device, is detached
    /// (lazily: the pod may hold files open on it) and bound to the new one.</summary>
    private void Rebind(NodePublicationRecord publication, StagingRecord staged)
    {
        using (var target = paths.Pin(publication.TargetPath, "target_path"))
        {
            if (MountTable.IsMountPoint(target.CurrentPath))
            {
                Mounter.Unmount(target, lazy: true);
            }
        }
        Bind(publication, staged);
    }

    /// <summary>Null when all that is mounted at the publication's target is the driver's bind of
    /// <paramref name="staged"/>'s device (or nothing); otherwise what is there besides.</summary>
    private static string? ForeignMountOn(NodePublicationRecord publication, StagingRecord staged) =>
        MountTable.At(publication.TargetPath).FirstOrDefault(m => !IsPublicationMount(m, publication.TargetPath, staged)) is { } foreign
            ? $"{MountTable.Describe(foreign)} is at {publication.TargetPath}, not mounted by the driver"
            : null;

    /// <summary>The bind mount NodePublishVolume made at <paramref name="targetPath"/>: the staged
    /// file system's root (mount volumes), or the staged device's node in devtmpfs (block volumes).</summary>
    private static bool IsPublicationMount(MountEntry mount, string targetPath, StagingRecord staged) =>
        mount.MountPoint == targetPath && (staged.AccessType == AccessType.Block
            ? mount.FsType == "devtmpfs" && mount.Root == staged.Device["/dev".Length..]
            : mount.Source == staged.Device && mount.Root == "/");

    /// <summary>Makes the directory (mount volumes) or empty file (block volumes) to bind onto,
    /// inside the pinned directory; what is already there must be of that kind. Kubelet makes
    /// the parent directory. Returns the entry open, to mount onto exactly what was checked.</summary>
    private static SafeFileHandle CreateTarget(PinnedPath target, bool directory)
    {
        target.Make(directory);
        var entry = target.RequireEntry("it was removed as it was made");
        if (PinnedPath.IsDirectory(entry) != directory)
        {
            entry.Dispose();
            throw new RpcException(StatusCode.FailedPrecondition,
                $"target_path {target.Path} exists and is not {(directory ? "a directory, for a mount volume" : "a file, for a block volume")}");
        }
        return entry;
    }

    /// <summary>Removes what <see cref="CreateTarget"/> made. Files someone left in the directory
    /// are not deleted: the call is refused and says so.</summary>
    private static void RemoveTarget(PinnedPath target)
    {
        using var entry = target.OpenEntry();
        if (entry is null)
        {
            return;
        }
        var directory = PinnedPath.IsDirectory(entry);
        if (directory && Directory.EnumerateFileSystemEntries(PinnedPath.ProcPath(entry)).Any())
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"target_path {target.Path} is unmounted but still holds files the driver did not put there; they are left as they are");
        }
        target.Remove(directory);
    }
}
