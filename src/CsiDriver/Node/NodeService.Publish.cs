using Csi.V1;
using CsiDriver.Csi;
using CsiDriver.Rpc;
using CsiDriver.State;

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
        var staged = driver.State.FindStaging(request.VolumeId);
        var mounts = MountTable.At(targetPath);
        if (mounts.FirstOrDefault(m => staged is null || !IsPublicationMount(m, targetPath, staged)) is { } foreign)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"volume '{request.VolumeId}' cannot be unpublished from {targetPath}: {MountTable.Describe(foreign)} was not mounted by the driver; unmount it first");
        }
        foreach (var ours in mounts)
        {
            Mounter.Unmount(ours.MountPoint);
        }
        RemoveTarget(targetPath);
        driver.State.DeleteNodePublication(targetPath);
        return Task.FromResult(new NodeUnpublishVolumeResponse());
    }

    /// <summary>The staged file system (or device, for a block volume) bound at the publication's
    /// target, which is made when missing.</summary>
    private static void Bind(NodePublicationRecord publication, StagingRecord staged)
    {
        var block = staged.AccessType == AccessType.Block;
        CreateTarget(publication.TargetPath, directory: !block);
        Mounter.Bind(block ? staged.Device : staged.StagingPath, publication.TargetPath, publication.ReadOnly);
    }

    /// <summary>After a repair: the pod's target, still bound to the lost device, is detached
    /// (lazily: the pod may hold files open on it) and bound to the new one.</summary>
    private static void Rebind(NodePublicationRecord publication, StagingRecord staged)
    {
        if (MountTable.IsMountPoint(publication.TargetPath))
        {
            Mounter.Unmount(publication.TargetPath, lazy: true);
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

    /// <summary>Makes the directory (mount volumes) or empty file (block volumes) to bind onto;
    /// what is already there must be of that kind. Kubelet makes the parent directory.</summary>
    private static void CreateTarget(string targetPath, bool directory)
    {
        var what = directory ? "a directory, for a mount volume" : "a file, for a block volume";
        if (directory ? File.Exists(targetPath) : Directory.Exists(targetPath))
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"target_path {targetPath} exists and is not {what}");
        }
        if (!Directory.Exists(Path.GetDirectoryName(targetPath)))
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"the directory holding target_path {targetPath} does not exist; the CO creates it");
        }
        try
        {
            if (directory)
            {
                Directory.CreateDirectory(targetPath);
            }
            else if (!File.Exists(targetPath))
            {
                using var _ = new FileStream(targetPath, FileMode.CreateNew, FileAccess.Write);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"target_path {targetPath} could not be made as {what}: {NodeErrors.Reason(e)}");
        }
    }

    /// <summary>Removes what <see cref="CreateTarget"/> made. Files someone left in the directory
    /// are not deleted: the call is refused and says so.</summary>
    private static void RemoveTarget(string targetPath)
    {
        try
        {
            if (Directory.Exists(targetPath))
            {
                if (Directory.EnumerateFileSystemEntries(targetPath).Any())
                {
                    throw new RpcException(StatusCode.FailedPrecondition,
                        $"target_path {targetPath} is unmounted but still holds files the driver did not put there; they are left as they are");
                }
                Directory.Delete(targetPath);
            }
            else
            {
                File.Delete(targetPath);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"target_path {targetPath} could not be removed: {NodeErrors.Reason(e)}");
        }
    }
}
