using Csi.V1;
using CsiDriver.Csi;
using CsiDriver.Rpc;
using CsiDriver.State;
using static Csi.V1.VolumeUsage.Types;

namespace CsiDriver.Node;

public sealed partial class NodeService
{
    /// <summary>Bytes and inodes of a staged or published mount volume (bytes only for block),
    /// with the volume condition: the attachment's, and whether what is mounted at
    /// <c>volume_path</c> really is the attached device (after a lost attachment, a pod's
    /// target may still show the old one).</summary>
    private Task<NodeGetVolumeStatsResponse> NodeGetVolumeStats(NodeGetVolumeStatsRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeId, "volume_id");
        RequestFields.Require(request.VolumePath, "volume_path");
        var volume = RequireVolume(request.VolumeId);
        var volumePath = NodePaths.Normal(request.VolumePath);
        var staged = RequireStagedAt(volume.Id, volumePath);

        var condition = Condition(staged);
        // A block volume's staging path holds no mount: only its targets show the device.
        var stale = volume.AccessType == AccessType.Block && volumePath == staged.StagingPath ? null : StaleView(volumePath, staged);
        var problem = condition.Abnormal ? condition.Message : stale;
        var response = new NodeGetVolumeStatsResponse
        {
            VolumeCondition = new VolumeCondition { Abnormal = problem is not null, Message = problem ?? condition.Message },
        };
        if (volume.AccessType == AccessType.Block)
        {
            response.Usage.Add(new VolumeUsage { Unit = Unit.Bytes, Total = volume.CapacityBytes });
        }
        else if (condition.State == AttachmentState.Lost || stale is not null)
        {
            // The file system at this path is not the attached one: its figures would mislead.
        }
        else
        {
            var usage = FileSystemUsage.Of(volumePath);
            response.Usage.Add(new VolumeUsage { Unit = Unit.Bytes, Total = usage.TotalBytes, Available = usage.AvailableBytes, Used = usage.UsedBytes });
            response.Usage.Add(new VolumeUsage { Unit = Unit.Inodes, Total = usage.TotalInodes, Available = usage.FreeInodes, Used = usage.UsedInodes });
        }
        return Task.FromResult(response);
    }

    /// <summary>Null when the mount at <paramref name="path"/> shows the staged device; otherwise
    /// what the pod (or the staging path) sees instead.</summary>
    private static string? StaleView(string path, StagingRecord staged) =>
        MountTable.Find(path) is { } top && (path == staged.StagingPath ? IsStagingMount(top, staged) : IsPublicationMount(top, path, staged))
            ? null
            : $"{path} does not show the attached device {staged.Device}; stage the volume again to bind it there";

    /// <summary>
    /// Grows what the volume's user sees to the volume's size, online: the attached device is
    /// shown the grown volume (LOOP_SET_CAPACITY), and a mount volume's file system is grown in
    /// place (xfs_growfs, or resize2fs for ext4). The kernel refuses ext4 online growth to a
    /// process without CAP_SYS_RESOURCE; the answer is then FAILED_PRECONDITION saying so, and
    /// the file system grows offline at the next stage.
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
        if (Condition(staged) is { State: AttachmentState.Lost } lost)
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"volume '{volume.Id}' cannot grow: {lost.Message}");
        }
        attacher.Refresh(AttachmentOf(staged));
        if (volume.AccessType == AccessType.Block)
        {
            return new NodeExpandVolumeResponse { CapacityBytes = volume.CapacityBytes };
        }
        try
        {
            await FileSystems.GrowMountedAsync(staged.Device, staged.StagingPath, staged.FsType, context.CancellationToken);
        }
        catch (ExternalCommandException e)
        {
            var why = staged.FsType == "ext4" && !ProcessCapabilities.HasSysResource()
                ? "growing a mounted ext4 needs CAP_SYS_RESOURCE, which csidriver does not have"
                : "the kernel refused to grow it while mounted";
            throw new RpcException(StatusCode.FailedPrecondition,
                $"volume '{volume.Id}' is attached with its new size, but its {staged.FsType} file system did not grow: {why} ({e.Message}); it grows to {volume.CapacityBytes} bytes when the volume is staged again");
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
