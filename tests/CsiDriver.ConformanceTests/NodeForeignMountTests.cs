using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>
/// The node touches only what it made: a mount someone else stacked on a staging or target
/// path makes unstage and unpublish refuse, naming it, with nothing unmounted or detached; a
/// target path of the wrong kind is refused in our words (issue 14, defects 6, 7 and 10).
/// </summary>
public sealed class NodeForeignMountTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    private DriverWorkspace Workspace => fixture.Driver.Workspace;

    [Fact]
    public async Task Unstage_refuses_while_a_foreign_mount_covers_the_staging_path_and_detaches_nothing()
    {
        NodeSteps.RequireKernelPath();
        var capability = Volumes.Mount("ext4");
        var volume = await Csi.CreateAsync("foreign-staging", capability, 64 * Volumes.MiB);
        var staging = NodeSteps.StagingPath(Workspace, volume.VolumeId);
        try
        {
            await Csi.StageAsync(Workspace, volume.VolumeId, capability);
            var ours = Assert.Single(MountsAt(staging));
            await HostCommand.RunAsync("mount", "-t", "tmpfs", "formation-foreign", staging);
            try
            {
                var refused = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Csi.UnstageAsync(Workspace, volume.VolumeId));
                Assert.Contains("tmpfs from formation-foreign", refused.Message);
                // Ours is still mounted underneath, on a device that is still attached.
                Assert.Equal([ours, "tmpfs formation-foreign"], MountsAt(staging));
                Assert.True(File.Exists(ours.Split(' ')[1]), $"{ours} lost its device");
            }
            finally
            {
                await HostCommand.RunAsync("umount", staging);
            }
            await Csi.UnstageAsync(Workspace, volume.VolumeId);
            Assert.Empty(MountsAt(staging));
        }
        finally
        {
            await Csi.CleanUpAsync(Workspace, volume.VolumeId);
        }
        await Csi.DeleteVolume(volume.VolumeId);
    }

    [Fact]
    public async Task Unpublish_refuses_while_a_foreign_mount_covers_the_target_and_unmounts_nothing()
    {
        NodeSteps.RequireKernelPath();
        var capability = Volumes.Mount("ext4");
        var volume = await Csi.CreateAsync("foreign-target", capability, 64 * Volumes.MiB);
        var target = NodeSteps.TargetPath(Workspace, volume.VolumeId);
        try
        {
            await Csi.StageAsync(Workspace, volume.VolumeId, capability);
            await Csi.PublishOnNodeAsync(Workspace, volume.VolumeId, capability);
            var ours = Assert.Single(MountsAt(target));
            await HostCommand.RunAsync("mount", "-t", "tmpfs", "formation-foreign", target);
            try
            {
                var refused = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Csi.UnpublishOnNodeAsync(Workspace, volume.VolumeId));
                Assert.Contains("tmpfs from formation-foreign", refused.Message);
                Assert.Equal([ours, "tmpfs formation-foreign"], MountsAt(target));
            }
            finally
            {
                await HostCommand.RunAsync("umount", target);
            }
            await Csi.UnpublishOnNodeAsync(Workspace, volume.VolumeId);
            Assert.Empty(MountsAt(target));
            Assert.False(Path.Exists(target));
        }
        finally
        {
            await Csi.CleanUpAsync(Workspace, volume.VolumeId);
        }
        await Csi.DeleteVolume(volume.VolumeId);
    }

    [Fact]
    public async Task A_target_of_the_wrong_kind_or_without_its_parent_is_refused_in_our_words()
    {
        NodeSteps.RequireKernelPath();
        var block = Volumes.Block();
        var volume = await Csi.CreateAsync("wrong-target", block, 16 * Volumes.MiB);
        var target = NodeSteps.TargetPath(Workspace, volume.VolumeId);
        try
        {
            await Csi.StageAsync(Workspace, volume.VolumeId, block);

            // A directory where a block volume's device file goes.
            Directory.CreateDirectory(target);
            var directory = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Csi.PublishOnNodeAsync(Workspace, volume.VolumeId, block));
            Assert.Contains("is not a file, for a block volume", directory.Message);
            Directory.Delete(target);

            // A parent directory kubelet did not make.
            var orphan = Path.Combine(Workspace.KubeletDirectory, "pods", "no-such-pod-" + Guid.NewGuid().ToString("N")[..8], "dev", "block");
            var parent = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Csi.NodePublishVolume(new()
            {
                VolumeId = volume.VolumeId, StagingTargetPath = NodeSteps.StagingPath(Workspace, volume.VolumeId), TargetPath = orphan, VolumeCapability = block,
            }));
            Assert.Contains("does not exist; the CO creates it", parent.Message);

            foreach (var failure in new[] { directory, parent })
            {
                Assert.DoesNotContain("Access to the path", failure.Message);
                Assert.DoesNotContain("Could not find a part of the path", failure.Message);
            }
            await Csi.PublishOnNodeAsync(Workspace, volume.VolumeId, block);
            await Csi.UnpublishOnNodeAsync(Workspace, volume.VolumeId);
        }
        finally
        {
            await Csi.CleanUpAsync(Workspace, volume.VolumeId);
        }
        await Csi.DeleteVolume(volume.VolumeId);
    }

    [Fact]
    public async Task A_file_where_a_mount_volume_s_directory_goes_is_refused_in_our_words()
    {
        NodeSteps.RequireKernelPath();
        var capability = Volumes.Mount("ext4");
        var volume = await Csi.CreateAsync("file-target", capability, 64 * Volumes.MiB);
        var target = NodeSteps.TargetPath(Workspace, volume.VolumeId);
        try
        {
            await Csi.StageAsync(Workspace, volume.VolumeId, capability);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            await File.WriteAllTextAsync(target, "not a directory");
            var refused = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Csi.PublishOnNodeAsync(Workspace, volume.VolumeId, capability));
            Assert.Contains("is not a directory, for a mount volume", refused.Message);
            Assert.DoesNotContain("already exists", refused.Message);
            File.Delete(target);
        }
        finally
        {
            await Csi.CleanUpAsync(Workspace, volume.VolumeId);
        }
        await Csi.DeleteVolume(volume.VolumeId);
    }

    /// <summary>"fstype source" of every mount at <paramref name="path"/>, bottom first.</summary>
    private static List<string> MountsAt(string path) =>
        File.ReadLines("/proc/self/mountinfo")
            .Select(line => line.Split(' '))
            .Where(fields => fields[4] == path)
            .Select(fields => fields[Array.IndexOf(fields, "-", 6) + 1] + " " + fields[Array.IndexOf(fields, "-", 6) + 2])
            .ToList();
}
