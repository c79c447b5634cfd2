using Csi.V1;
using CsiDriver.Csi;
using CsiDriver.Rpc;
using CsiDriver.State;

namespace CsiDriver.Node;

public sealed partial class NodeService
{
    /// <summary>
    /// Attaches the volume as a block device and, for a mount volume, mounts its file system at
    /// the staging path, creating the file system on first use and growing it to the volume's
    /// size when the volume was expanded since. Repeating a successful stage succeeds. Staging a
    /// volume whose attachment was lost repairs it: a new device, and every publication of the
    /// volume bound again to it; staging one whose session the holder no longer keeps hands the
    /// session to the holder again.
    /// </summary>
    private async Task<NodeStageVolumeResponse> NodeStageVolume(NodeStageVolumeRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeId, "volume_id");
        var stagingPath = paths.Require(request.StagingTargetPath, "staging_target_path");
        VolumeCapabilities.RequireOne(request.VolumeCapability, "volume_capability");
        using var _ = driver.Locks.Acquire("volume", request.VolumeId);
        var volume = RequireVolume(request.VolumeId);
        if (VolumeCapabilities.Mismatch(request.VolumeCapability, volume) is { } mismatch)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"volume_capability: {mismatch}");
        }
        var readOnly = VolumeCapabilities.IsReadOnlyMode(request.VolumeCapability.AccessMode.Mode);

        var publications = driver.State.NodePublicationsOf(volume.Id);
        if (driver.State.FindStaging(volume.Id) is { } staged)
        {
            if (staged.StagingPath != stagingPath)
            {
                throw new RpcException(StatusCode.FailedPrecondition,
                    $"volume '{volume.Id}' is already staged at {staged.StagingPath}; unstage it there first");
            }
            if (staged.ReadOnly != readOnly)
            {
                throw new RpcException(StatusCode.AlreadyExists,
                    $"volume '{volume.Id}' is staged at {stagingPath} with read-only={staged.ReadOnly}");
            }
            switch (Condition(staged).State)
            {
                case AttachmentState.Healthy:
                    return new NodeStageVolumeResponse();
                case AttachmentState.Unprotected:
                    attacher.Protect(AttachmentOf(staged));
                    return new NodeStageVolumeResponse();
            }
            // Lost: every publication must be bound again to the new device, or none is touched.
            if (publications.Select(p => ForeignMountOn(p, staged)).OfType<string>().FirstOrDefault() is { } foreign)
            {
                throw new RpcException(StatusCode.FailedPrecondition,
                    $"volume '{volume.Id}' lost its attachment, and it cannot be repaired: {foreign}; unmount that first");
            }
            await TearDownAsync(staged, lazy: true);
        }

        if (volume.AccessType == AccessType.Mount && !Directory.Exists(stagingPath))
        {
            throw new RpcException(StatusCode.InvalidArgument, $"staging_target_path {stagingPath} does not exist; the CO creates it");
        }

        var device = VolumeAttacher.EngineDevice(driver.Engine, volume.Id, readOnly)
            ?? throw new RpcException(StatusCode.NotFound, $"volume '{volume.Id}' does not exist in the engine");
        var attachment = await attacher.AttachAsync(volume.Id, device, readOnly, context.CancellationToken);
        StagingRecord staging;
        try
        {
            if (volume.AccessType == AccessType.Mount)
            {
                await PrepareFileSystemAsync(volume, attachment.Device, readOnly, context.CancellationToken);
                Mounter.MountFileSystem(attachment.Device, stagingPath, volume.FsType,
                    request.VolumeCapability.Mount.MountFlags, readOnly);
            }
            staging = new StagingRecord(volume.Id, stagingPath, attachment.Device, attachment.MountPoint,
                volume.AccessType, volume.FsType, readOnly);
            driver.State.InsertStaging(staging);
        }
        catch
        {
            if (MountTable.Find(stagingPath)?.Source == attachment.Device)
            {
                Mounter.Unmount(stagingPath);
            }
            await attacher.DetachAsync(attachment);
            throw;
        }
        foreach (var publication in publications)
        {
            Rebind(publication, staging);
        }
        return new NodeStageVolumeResponse();
    }

    /// <summary>A blank device gets the volume's file system; one holding another file system
    /// is refused (never reformatted); one smaller than the device is grown while unmounted.</summary>
    private static async Task PrepareFileSystemAsync(VolumeRecord volume, string device, bool readOnly, CancellationToken cancellationToken)
    {
        var found = await FileSystems.DetectAsync(device, cancellationToken);
        if (found is null)
        {
            if (readOnly)
            {
                throw new RpcException(StatusCode.FailedPrecondition,
                    $"volume '{volume.Id}' has no file system yet and is staged read-only, so none can be created");
            }
            await FileSystems.FormatAsync(device, volume.FsType, cancellationToken);
            return;
        }
        if (found != volume.FsType)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"volume '{volume.Id}' holds a {found} file system, not {volume.FsType}; it is left as it is");
        }
        if (!readOnly)
        {
            await FileSystems.GrowUnmountedAsync(device, volume.FsType, cancellationToken);
        }
    }

    /// <summary>Unmounts the staging path (only if the driver's device is what is mounted there)
    /// and detaches the device. Unstaging what is not staged succeeds.</summary>
    private async Task<NodeUnstageVolumeResponse> NodeUnstageVolume(NodeUnstageVolumeRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeId, "volume_id");
        var stagingPath = paths.Require(request.StagingTargetPath, "staging_target_path");
        using var _ = driver.Locks.Acquire("volume", request.VolumeId);
        if (driver.State.FindStaging(request.VolumeId) is not { } staged || staged.StagingPath != stagingPath)
        {
            return new NodeUnstageVolumeResponse();
        }
        if (driver.State.NodePublicationsOf(staged.VolumeId) is { Count: > 0 } publications)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"volume '{staged.VolumeId}' is still published at {string.Join(", ", publications.Select(p => p.TargetPath))}");
        }
        // A mount someone else put on (or under) the staging path would keep ours mounted on a
        // device we detach: refuse, and touch nothing.
        if (MountTable.At(stagingPath).FirstOrDefault(m => !IsStagingMount(m, staged)) is { } foreign)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"volume '{staged.VolumeId}' cannot be unstaged: {MountTable.Describe(foreign)} was not mounted by the driver; unmount it first");
        }
        await TearDownAsync(staged, lazy: Condition(staged).State == AttachmentState.Lost);
        return new NodeUnstageVolumeResponse();
    }

    /// <summary>The file system the driver mounted at the staging path: the device's, at its root.</summary>
    private static bool IsStagingMount(MountEntry mount, StagingRecord staged) =>
        staged.AccessType == AccessType.Mount && mount.MountPoint == staged.StagingPath && mount.Source == staged.Device && mount.Root == "/";

    /// <summary>Undoes a staging; <paramref name="lazy"/> detaches a lost attachment's mount even
    /// while something still holds it.</summary>
    private async Task TearDownAsync(StagingRecord staged, bool lazy)
    {
        if (staged.AccessType == AccessType.Mount && MountTable.Find(staged.StagingPath)?.Source == staged.Device)
        {
            Mounter.Unmount(staged.StagingPath, lazy);
        }
        await attacher.DetachAsync(AttachmentOf(staged));
        driver.State.DeleteStaging(staged.VolumeId);
    }
}
