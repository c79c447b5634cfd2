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
        if (MountTable.IsMountPoint(targetPath))
        {
            Mounter.Unmount(targetPath);
        }
        if (Directory.Exists(targetPath))
        {
            Directory.Delete(targetPath);
        }
        else
        {
            File.Delete(targetPath);
        }
        driver.State.DeleteNodePublication(targetPath);
        return Task.FromResult(new NodeUnpublishVolumeResponse());
    }

    /// <summary>The staged file system (or device, for a block volume) bound at the publication's
    /// target, which is created when missing.</summary>
    private static void Bind(NodePublicationRecord publication, StagingRecord staged)
    {
        if (staged.AccessType == AccessType.Block)
        {
            if (!File.Exists(publication.TargetPath))
            {
                File.WriteAllBytes(publication.TargetPath, []);
            }
            Mounter.Bind(staged.Device, publication.TargetPath, publication.ReadOnly);
        }
        else
        {
            Directory.CreateDirectory(publication.TargetPath);
            Mounter.Bind(staged.StagingPath, publication.TargetPath, publication.ReadOnly);
        }
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

    /// <summary>Null when what is mounted at the publication's target is the driver's bind of
    /// <paramref name="staged"/>'s device (or nothing); otherwise what is there instead.</summary>
    private static string? ForeignMountOn(NodePublicationRecord publication, StagingRecord staged) =>
        MountTable.Find(publication.TargetPath) is { } top && !ShowsDevice(top, staged)
            ? $"{top.Source} ({top.FsType}) is mounted at {publication.TargetPath}"
            : null;

    /// <summary>Whether a mount shows the staged device: a bind of its file system (which
    /// mountinfo lists with the device as source) or, for a block volume, of its device node.</summary>
    private static bool ShowsDevice(MountEntry mount, StagingRecord staged) =>
        staged.AccessType == AccessType.Block
            ? mount.Root == "/" + Path.GetFileName(staged.Device)
            : mount.Source == staged.Device;
}
