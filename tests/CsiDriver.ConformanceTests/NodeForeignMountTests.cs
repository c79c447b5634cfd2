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
    public Task Unstage_refuses_while_a_foreign_mount_covers_the_staging_path_and_detaches_nothing() =>
        WithStagedVolumeAsync("foreign-staging", Volumes.Mount("ext4"), 64 * Volumes.MiB, async volumeId =>
        {
            var staging = NodeSteps.StagingPath(Workspace, volumeId);
            var ours = Assert.Single(MountsAt(staging));
            await WithForeignMountAsync(staging, async () =>
            {
                var refused = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Csi.UnstageAsync(Workspace, volumeId));
                Assert.Contains("tmpfs from formation-foreign", refused.Message);
                // Ours is still mounted underneath, on a device that is still attached.
                Assert.Equal([ours, "tmpfs formation-foreign"], MountsAt(staging));
                Assert.True(File.Exists(ours.Split(' ')[1]), $"{ours} lost its device");
            });
            await Csi.UnstageAsync(Workspace, volumeId);
            Assert.Empty(MountsAt(staging));
        });

    [Fact]
    public Task Unpublish_refuses_while_a_foreign_mount_covers_the_target_and_unmounts_nothing() =>
        WithStagedVolumeAsync("foreign-target", Volumes.Mount("ext4"), 64 * Volumes.MiB, async volumeId =>
        {
            var target = NodeSteps.TargetPath(Workspace, volumeId);
            await Csi.PublishOnNodeAsync(Workspace, volumeId, Volumes.Mount("ext4"));
            var ours = Assert.Single(MountsAt(target));
            await WithForeignMountAsync(target, async () =>
            {
                var refused = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Csi.UnpublishOnNodeAsync(Workspace, volumeId));
                Assert.Contains("tmpfs from formation-foreign", refused.Message);
                Assert.Equal([ours, "tmpfs formation-foreign"], MountsAt(target));
            });
            await Csi.UnpublishOnNodeAsync(Workspace, volumeId);
            Assert.Empty(MountsAt(target));
            Assert.False(Path.Exists(target));
        });

    /// <summary>The tests' undo (<see cref="NodeSteps.CleanUpAsync"/>) fails the test with the
    /// driver's refusal when it cannot undo: here a foreign mount on the target keeps the volume
    /// published and staged. It used to swallow every RPC error, so such a leak passed unseen.</summary>
    [Fact]
    public Task A_refused_clean_up_fails_with_the_refusal() =>
        WithStagedVolumeAsync("foreign-clean-up", Volumes.Mount("ext4"), 64 * Volumes.MiB, async volumeId =>
        {
            var target = NodeSteps.TargetPath(Workspace, volumeId);
            await Csi.PublishOnNodeAsync(Workspace, volumeId, Volumes.Mount("ext4"));
            await WithForeignMountAsync(target, async () =>
            {
                var failed = await Assert.ThrowsAnyAsync<Xunit.Sdk.XunitException>(() => Csi.CleanUpAsync(Workspace, volumeId));
                Assert.Contains("tmpfs from formation-foreign", failed.Message); // unpublish's refusal
                Assert.Contains("is still published", failed.Message); // unstage was tried all the same
            });
            await Csi.CleanUpAsync(Workspace, volumeId);
            Assert.Empty(MountsAt(target));
            Assert.Empty(MountsAt(NodeSteps.StagingPath(Workspace, volumeId)));
        });

    [Fact]
    public Task A_target_of_the_wrong_kind_or_without_its_parent_is_refused_in_our_words() =>
        WithStagedVolumeAsync("wrong-target", Volumes.Block(), 16 * Volumes.MiB, async volumeId =>
        {
            var block = Volumes.Block();
            var target = NodeSteps.TargetPath(Workspace, volumeId);

            // A directory where a block volume's device file goes.
            Directory.CreateDirectory(target);
            var directory = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Csi.PublishOnNodeAsync(Workspace, volumeId, block));
            Assert.Contains("is not a file, for a block volume", directory.Message);
            Directory.Delete(target);

            // A parent directory kubelet did not make.
            var orphan = Path.Combine(Workspace.KubeletDirectory, "pods", "no-such-pod-" + Guid.NewGuid().ToString("N")[..8], "dev", "block");
            var parent = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Csi.NodePublishVolume(new()
            {
                VolumeId = volumeId, StagingTargetPath = NodeSteps.StagingPath(Workspace, volumeId), TargetPath = orphan, VolumeCapability = block,
            }));
            Assert.Contains("does not exist; the CO creates it", parent.Message);

            foreach (var failure in new[] { directory, parent })
            {
                Assert.DoesNotContain("Access to the path", failure.Message);
                Assert.DoesNotContain("Could not find a part of the path", failure.Message);
            }
            await Csi.PublishOnNodeAsync(Workspace, volumeId, block);
            await Csi.UnpublishOnNodeAsync(Workspace, volumeId);
        });

    [Fact]
    public Task A_file_where_a_mount_volume_s_directory_goes_is_refused_in_our_words() =>
        WithStagedVolumeAsync("file-target", Volumes.Mount("ext4"), 64 * Volumes.MiB, async volumeId =>
        {
            var target = NodeSteps.TargetPath(Workspace, volumeId);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            await File.WriteAllTextAsync(target, "not a directory");
            var refused = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Csi.PublishOnNodeAsync(Workspace, volumeId, Volumes.Mount("ext4")));
            Assert.Contains("is not a directory, for a mount volume", refused.Message);
            Assert.DoesNotContain("already exists", refused.Message);
            File.Delete(target);
        });

    /// <summary>Creates and stages a volume, runs <paramref name="body"/>, and cleans up after it
    /// whatever happened, so a failed test leaves no mount behind.</summary>
    private async Task WithStagedVolumeAsync(string purpose, Csi.V1.VolumeCapability capability, long bytes, Func<string, Task> body)
    {
        NodeSteps.RequireKernelPath();
        var volume = await Csi.CreateAsync(purpose, capability, bytes);
        try
        {
            await Csi.StageAsync(Workspace, volume.VolumeId, capability);
            await body(volume.VolumeId);
        }
        finally
        {
            await Csi.CleanUpAsync(Workspace, volume.VolumeId);
        }
        await Csi.DeleteVolume(volume.VolumeId);
    }

    /// <summary>A tmpfs of the test's own stacked on <paramref name="path"/> while <paramref name="body"/> runs.</summary>
    private static async Task WithForeignMountAsync(string path, Func<Task> body)
    {
        await HostCommand.RunAsync("mount", "-t", "tmpfs", "formation-foreign", path);
        try
        {
            await body();
        }
        finally
        {
            await HostCommand.RunAsync("umount", path);
        }
    }

    /// <summary>"fstype source" of every mount at <paramref name="path"/>, bottom first.</summary>
    private static List<string> MountsAt(string path) =>
        File.ReadLines("/proc/self/mountinfo")
            .Select(line => line.Split(' '))
            .Where(fields => fields[4] == path)
            .Select(fields => fields[Array.IndexOf(fields, "-", 6) + 1] + " " + fields[Array.IndexOf(fields, "-", 6) + 2])
            .ToList();
}
