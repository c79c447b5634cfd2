using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>
/// End to end on the real kernel path, as kubelet drives it: create → controller publish →
/// stage (nbdfuse + loop device + mkfs) → publish (bind mount) → files written in the mount
/// reach the engine → unpublish → unstage → stage again → the files are there.
/// </summary>
public sealed class NodeDataPathTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    private DriverWorkspace Workspace => fixture.Driver.Workspace;

    private static Dictionary<string, byte[]> SomeFiles(int seed) =>
        Enumerable.Range(0, 3).ToDictionary(i => $"file-{i}.bin", i =>
        {
            var data = new byte[100_000 * (i + 1)];
            new Random(seed + i).NextBytes(data);
            return data;
        });

    [Theory]
    [InlineData("ext4", 64)]
    [InlineData("xfs", 320)]
    public async Task Files_written_in_a_published_mount_survive_unstage_and_restage(string fsType, int sizeMiB)
    {
        NodeSteps.RequireKernelPath();
        var capability = Volumes.Mount(fsType);
        var volume = await Csi.CreateAsync("e2e-" + fsType, capability, sizeMiB * Volumes.MiB);
        await Csi.PublishAsync(volume, fixture.NodeId, capability);
        var target = NodeSteps.TargetPath(Workspace, volume.VolumeId);
        var files = SomeFiles(seed: sizeMiB);
        try
        {
            await Csi.StageAsync(Workspace, volume.VolumeId, capability);
            await Csi.StageAsync(Workspace, volume.VolumeId, capability);
            await Csi.PublishOnNodeAsync(Workspace, volume.VolumeId, capability);
            await Csi.PublishOnNodeAsync(Workspace, volume.VolumeId, capability);
            Assert.True(NodeSteps.IsMounted(target));
            foreach (var (name, data) in files)
            {
                await File.WriteAllBytesAsync(Path.Combine(target, name), data);
            }

            var stats = await Csi.NodeGetVolumeStats(new() { VolumeId = volume.VolumeId, VolumePath = target });
            Assert.False(stats.VolumeCondition.Abnormal, stats.VolumeCondition.Message);
            var bytes = stats.Usage.Single(u => u.Unit == VolumeUsage.Types.Unit.Bytes);
            Assert.InRange(bytes.Total, sizeMiB * Volumes.MiB / 2, sizeMiB * Volumes.MiB);
            Assert.True(bytes.Used >= files.Values.Sum(f => f.Length), $"used {bytes.Used} bytes after writing the files");
            Assert.Contains(stats.Usage, u => u.Unit == VolumeUsage.Types.Unit.Inodes && u.Used > 0);
            // Where the volume is not (csi-sanity asks with a relative path): NOT_FOUND, not a complaint about the path.
            foreach (var elsewhere in new[] { "some/path", NodeSteps.TargetPath(Workspace, volume.VolumeId, "pod-elsewhere") })
            {
                await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.NodeGetVolumeStats(new() { VolumeId = volume.VolumeId, VolumePath = elsewhere }));
            }

            await Csi.UnpublishOnNodeAsync(Workspace, volume.VolumeId);
            Assert.False(Path.Exists(target), "the target path the driver created is removed");
            await Csi.UnstageAsync(Workspace, volume.VolumeId);
            Assert.False(NodeSteps.IsMounted(NodeSteps.StagingPath(Workspace, volume.VolumeId)));

            await Csi.StageAsync(Workspace, volume.VolumeId, capability);
            await Csi.PublishOnNodeAsync(Workspace, volume.VolumeId, capability, readOnly: true, pod: "pod-b");
            var readOnlyTarget = NodeSteps.TargetPath(Workspace, volume.VolumeId, "pod-b");
            foreach (var (name, data) in files)
            {
                Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(readOnlyTarget, name)));
            }
            Assert.ThrowsAny<IOException>(() => File.WriteAllText(Path.Combine(readOnlyTarget, "refused.txt"), "x"));
        }
        finally
        {
            await Csi.CleanUpAsync(Workspace, volume.VolumeId, "pod-a", "pod-b");
        }
        await Csi.UnpublishAsync(volume.VolumeId, fixture.NodeId);
        await Csi.DeleteVolume(volume.VolumeId);
    }

    [Fact]
    public async Task Raw_writes_to_a_published_block_volume_reach_the_engine()
    {

        NodeSteps.RequireKernelPath();
        var capability = Volumes.Block();
        var volume = await Csi.CreateAsync("e2e-block", capability, 16 * Volumes.MiB);
        var target = NodeSteps.TargetPath(Workspace, volume.VolumeId);
        var data = new byte[1 << 20];
        new Random(7).NextBytes(data);
        try
        {
            await Csi.StageAsync(Workspace, volume.VolumeId, capability);
            await Csi.PublishOnNodeAsync(Workspace, volume.VolumeId, capability);
            var stats = await Csi.NodeGetVolumeStats(new() { VolumeId = volume.VolumeId, VolumePath = target });
            Assert.Equal(16 * Volumes.MiB, stats.Usage.Single().Total);
            await using (var device = new FileStream(target, FileMode.Open, FileAccess.ReadWrite))
            {
                device.Seek(3 * Volumes.MiB, SeekOrigin.Begin);
                await device.WriteAsync(data);
                await device.FlushAsync();
            }
            await Csi.CleanUpAsync(Workspace, volume.VolumeId);

            await Csi.StageAsync(Workspace, volume.VolumeId, capability);
            await Csi.PublishOnNodeAsync(Workspace, volume.VolumeId, capability, pod: "pod-b");
            await using var again = new FileStream(NodeSteps.TargetPath(Workspace, volume.VolumeId, "pod-b"), FileMode.Open, FileAccess.Read);
            again.Seek(3 * Volumes.MiB, SeekOrigin.Begin);
            var back = new byte[data.Length];
            await again.ReadExactlyAsync(back);
            Assert.Equal(data, back);
        }
        finally
        {
            await Csi.CleanUpAsync(Workspace, volume.VolumeId, "pod-a", "pod-b");
        }
    }

    /// <summary>
    /// The controller grows the volume; the attached device shows the new size at once and
    /// NodeExpandVolume grows the mounted file system in place, with no restage. The kernel grows
    /// a mounted ext4 only for a process with CAP_SYS_RESOURCE: without it (as on the test VMs)
    /// the answer is FAILED_PRECONDITION saying so, and the file system grows offline when the
    /// volume is staged again.
    /// </summary>
    [Theory]
    [InlineData("ext4", 64)]
    [InlineData("xfs", 320)]
    public async Task A_mounted_volume_grows_online_and_keeps_its_data(string fsType, int sizeMiB)
    {
        NodeSteps.RequireKernelPath();
        var capability = Volumes.Mount(fsType);
        var volume = await Csi.CreateAsync("e2e-grow-" + fsType, capability, sizeMiB * Volumes.MiB);
        var target = NodeSteps.TargetPath(Workspace, volume.VolumeId);
        var files = SomeFiles(seed: sizeMiB);
        var grown = 4L * sizeMiB * Volumes.MiB;
        try
        {
            await Csi.StageAsync(Workspace, volume.VolumeId, capability);
            await Csi.PublishOnNodeAsync(Workspace, volume.VolumeId, capability);
            foreach (var (name, data) in files)
            {
                await File.WriteAllBytesAsync(Path.Combine(target, name), data);
            }
            var before = (await Csi.NodeGetVolumeStats(new() { VolumeId = volume.VolumeId, VolumePath = target })).Usage[0].Total;

            var expanded = await Csi.ControllerExpandVolume(new()
            {
                VolumeId = volume.VolumeId, CapacityRange = new CapacityRange { RequiredBytes = grown }, VolumeCapability = capability,
            });
            Assert.True(expanded.NodeExpansionRequired);
            Assert.Equal(grown, NodeSteps.DeviceSize(NodeSteps.DeviceMountedAt(target)));

            var expand = () => Csi.NodeExpandVolume(new()
            {
                VolumeId = volume.VolumeId, VolumePath = target, CapacityRange = new CapacityRange { RequiredBytes = grown },
            });
            if (fsType == "ext4" && !NodeSteps.HasCapSysResource())
            {
                var refused = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, expand);
                Assert.Contains("CAP_SYS_RESOURCE", refused.Message);
                Assert.Contains("staged again", refused.Message);
                await Csi.UnpublishOnNodeAsync(Workspace, volume.VolumeId);
                await Csi.UnstageAsync(Workspace, volume.VolumeId);
                await Csi.StageAsync(Workspace, volume.VolumeId, capability);
                await Csi.PublishOnNodeAsync(Workspace, volume.VolumeId, capability);
            }
            else
            {
                Assert.Equal(grown, (await expand()).CapacityBytes);
            }

            var after = (await Csi.NodeGetVolumeStats(new() { VolumeId = volume.VolumeId, VolumePath = target })).Usage[0].Total;
            Assert.True(after > before * 3, $"file system grew from {before} to {after} bytes");
            foreach (var (name, data) in files)
            {
                Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(target, name)));
            }
        }
        finally
        {
            await Csi.CleanUpAsync(Workspace, volume.VolumeId);
        }
    }
}
