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
        if (request.VolumeCapability is null)
        {
            throw new RpcException(StatusCode.InvalidArgument, "volume_capability is required");
        }
        if (VolumeCapabilities.Unsupported(request.VolumeCapability) is { } unsupported)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"volume_capability: {unsupported}");
        }
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

        if (volume.AccessType == AccessType.Block)
        {
            if (!File.Exists(targetPath))
            {
                File.WriteAllBytes(targetPath, []);
            }
            Mounter.Bind(staged.Device, targetPath, readOnly);
        }
        else
        {
            Directory.CreateDirectory(targetPath);
            Mounter.Bind(stagingPath, targetPath, readOnly);
        }
        driver.State.InsertNodePublication(new NodePublicationRecord(targetPath, volume.Id, readOnly));
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
}
