using Csi.V1;
using CsiDriver.Csi;
using CsiDriver.Rpc;
using CsiDriver.State;
using static Csi.V1.VolumeUsage.Types;

namespace CsiDriver.Node;

public sealed partial class NodeService
{
    /// <summary>Bytes and inodes of a staged or published mount volume (bytes only for block),
    /// with the attachment's condition.</summary>
    private Task<NodeGetVolumeStatsResponse> NodeGetVolumeStats(NodeGetVolumeStatsRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeId, "volume_id");
        RequestFields.Require(request.VolumePath, "volume_path");
        var volume = RequireVolume(request.VolumeId);
        var volumePath = NodePaths.Normal(request.VolumePath);
        var staged = RequireStagedAt(volume.Id, volumePath);

        var response = new NodeGetVolumeStatsResponse
        {
            VolumeCondition = Problem(staged) is { } problem
                ? new VolumeCondition { Abnormal = true, Message = problem }
                : new VolumeCondition { Abnormal = false, Message = "attached and healthy" },
        };
        if (volume.AccessType == AccessType.Block)
        {
            response.Usage.Add(new VolumeUsage { Unit = Unit.Bytes, Total = volume.CapacityBytes });
        }
        else if (response.VolumeCondition.Abnormal)
        {
            // statvfs on a lost FUSE-backed mount would fail or hang on I/O errors: report only the condition.
        }
        else
        {
            var usage = FileSystemUsage.Of(volumePath);
            response.Usage.Add(new VolumeUsage { Unit = Unit.Bytes, Total = usage.TotalBytes, Available = usage.AvailableBytes, Used = usage.UsedBytes });
            response.Usage.Add(new VolumeUsage { Unit = Unit.Inodes, Total = usage.TotalInodes, Available = usage.FreeInodes, Used = usage.UsedInodes });
        }
        return Task.FromResult(response);
    }

    /// <summary>
    /// Grows a mount volume's file system to the volume's size. The attached device keeps the
    /// size it had when it was attached, and this kernel may refuse online growth; either way
    /// the answer is FAILED_PRECONDITION saying the file system grows at the next stage, which
    /// grows it offline.
    /// </summary>
    private async Task<NodeExpandVolumeResponse> NodeExpandVolume(NodeExpandVolumeRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeId, "volume_id");
        RequestFields.Require(request.VolumePath, "volume_path");
        using var _ = driver.Locks.Acquire("volume", request.VolumeId);
        var volume = RequireVolume(request.VolumeId);
        var required = request.CapacityRange?.RequiredBytes ?? 0;
        if (required > volume.CapacityBytes)
        {
            throw new RpcException(StatusCode.OutOfRange,
                $"volume '{volume.Id}' is {volume.CapacityBytes} bytes; expand it in the controller before asking for {required}");
        }
        var staged = RequireStagedAt(volume.Id, NodePaths.Normal(request.VolumePath));
        if (volume.AccessType == AccessType.Block)
        {
            return new NodeExpandVolumeResponse { CapacityBytes = volume.CapacityBytes };
        }
        var deviceSize = await FileSystems.DeviceSizeAsync(staged.Device, context.CancellationToken);
        if (deviceSize < volume.CapacityBytes)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"volume '{volume.Id}' is attached with its old size ({deviceSize} bytes); its file system grows to {volume.CapacityBytes} bytes when the volume is staged again");
        }
        try
        {
            await FileSystems.GrowMountedAsync(staged.Device, staged.StagingPath, staged.FsType, context.CancellationToken);
        }
        catch (ExternalCommandException e)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"the kernel refused to grow the mounted {staged.FsType} file system of volume '{volume.Id}' ({e.Message}); it grows when the volume is staged again");
        }
        return new NodeExpandVolumeResponse { CapacityBytes = volume.CapacityBytes };
    }

    /// <summary>
    /// The volume's staging when <paramref name="path"/> is its staging path or one of its
    /// published targets; NOT_FOUND otherwise. The path is only compared with the recorded ones,
    /// which were checked when they were staged or published, so any other path — relative, or
    /// outside the kubelet directory — is simply not where the volume is (the spec's NOT_FOUND
    /// "does not exist on the specified volume_path"), and nothing is looked at on disk for it.
    /// </summary>
    private StagingRecord RequireStagedAt(string volumeId, string path)
    {
        if (driver.State.FindStaging(volumeId) is { } staged
            && (staged.StagingPath == path || driver.State.FindNodePublication(path)?.VolumeId == volumeId))
        {
            return staged;
        }
        throw new RpcException(StatusCode.NotFound, $"volume '{volumeId}' is not staged or published at {path}");
    }
}
