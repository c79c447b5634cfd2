using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.ConformanceTests.NodeRestart;

/// <summary>
/// Without a session holder an attachment ends with the csidriver that served it (as it does
/// where the kernel cannot resend FUSE requests). Then the node must say so, staging again must
/// repair it — for the pods too, whose targets still show the dead device — and nothing the
/// dead attachment held may stay behind.
/// </summary>
public sealed class LostAttachmentTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Restaging_a_lost_attachment_binds_every_publication_to_the_new_device_and_stats_say_what_the_pod_sees(bool block)
    {
        NodeSteps.RequireKernelPath();
        using var workspace = DriverWorkspace.Create();
        var capability = block ? Volumes.Block() : Volumes.Mount("ext4");
        var driver = await DriverProcess.StartAsync(workspace);
        var volumeId = (await driver.Csi.CreateAsync(block ? "lost-block" : "lost-mount", capability, 64 * Volumes.MiB)).VolumeId;
        var target = NodeSteps.TargetPath(workspace, volumeId);
        try
        {
            await driver.Csi.StageAsync(workspace, volumeId, capability);
            await driver.Csi.PublishOnNodeAsync(workspace, volumeId, capability);
            await WriteAsync(block, target, "before the crash");

            await driver.CrashAsync();
            await driver.DisposeAsync();
            driver = await DriverProcess.StartAsync(workspace);
            var lost = await StatsAsync(driver, volumeId, target);
            Assert.True(lost.VolumeCondition.Abnormal, "the pod's target shows a dead device");
            Assert.Contains("stage the volume again", lost.VolumeCondition.Message);

            await driver.Csi.StageAsync(workspace, volumeId, capability);

            var repaired = await StatsAsync(driver, volumeId, target);
            Assert.False(repaired.VolumeCondition.Abnormal, repaired.VolumeCondition.Message);
            Assert.Equal("before the crash", await ReadAsync(block, target));
            await WriteAsync(block, target, "after the repair");
            Assert.Equal("after the repair", await ReadAsync(block, target));
            if (!block)
            {
                // One file system on one device: the staging mount and the pod's bind of it.
                var sources = File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' '))
                    .Where(f => f[4].StartsWith(workspace.Root + "/", StringComparison.Ordinal) && f[Array.IndexOf(f, "-") + 1] == "ext4")
                    .Select(f => f[Array.IndexOf(f, "-") + 2])
                    .ToList();
                Assert.Equal(2, sources.Count);
                Assert.Single(sources.Distinct());
            }
        }
        finally
        {
            try
            {
                await driver.Csi.CleanUpAsync(workspace, volumeId);
            }
            finally
            {
                await driver.StopAsync();
                await driver.DisposeAsync();
            }
        }
        Assert.Empty(HostInspection.MountsUnder(workspace.Root));
        Assert.Empty(HostInspection.LoopDevicesUnder(workspace.Root));
    }

    [Fact]
    public async Task A_crash_leaves_no_loop_device_or_FUSE_mount_of_its_data_directory_behind()
    {
        NodeSteps.RequireKernelPath();
        using var workspace = DriverWorkspace.Create();
        var capability = Volumes.Block();
        var driver = await DriverProcess.StartAsync(workspace);
        var volumeId = (await driver.Csi.CreateAsync("leftover", capability, 16 * Volumes.MiB)).VolumeId;
        try
        {
            await driver.Csi.StageAsync(workspace, volumeId, capability);
            Assert.Single(HostInspection.LoopDevicesUnder(workspace.DataDirectory));

            await driver.CrashAsync();
            await driver.DisposeAsync();
            driver = await DriverProcess.StartAsync(workspace);
            await driver.StopAsync();
            await driver.DisposeAsync();

            // The dead attachment was released at start: nothing serves it, nothing can use it.
            Assert.Empty(HostInspection.LoopDevicesUnder(workspace.DataDirectory));
            Assert.Empty(HostInspection.MountsUnder(workspace.DataDirectory));

            driver = await DriverProcess.StartAsync(workspace);
            var stats = await driver.Csi.NodeGetVolumeStats(new() { VolumeId = volumeId, VolumePath = NodeSteps.StagingPath(workspace, volumeId) });
            Assert.True(stats.VolumeCondition.Abnormal, "the staging's attachment is gone");
            await driver.Csi.UnstageAsync(workspace, volumeId);
        }
        finally
        {
            try
            {
                await driver.Csi.CleanUpAsync(workspace, volumeId);
            }
            finally
            {
                await driver.DisposeAsync();
            }
        }
        Assert.Empty(HostInspection.LoopDevicesUnder(workspace.Root));
    }

    private static Task<NodeGetVolumeStatsResponse> StatsAsync(DriverProcess driver, string volumeId, string path) =>
        driver.Csi.NodeGetVolumeStats(new() { VolumeId = volumeId, VolumePath = path });

    /// <summary>A short text, fsynced (what is not would rightly be lost with the attachment): a
    /// file in a mount volume, the first block of a block volume.</summary>
    private static async Task WriteAsync(bool block, string target, string text)
    {
        var bytes = new byte[block ? 4096 : text.Length];
        System.Text.Encoding.UTF8.GetBytes(text).CopyTo(bytes, 0);
        await using var file = block
            ? new FileStream(target, FileMode.Open, FileAccess.Write)
            : new FileStream(Path.Combine(target, "note.txt"), FileMode.Create, FileAccess.Write);
        await file.WriteAsync(bytes);
        file.Flush(flushToDisk: true);
    }

    private static async Task<string> ReadAsync(bool block, string target)
    {
        if (!block)
        {
            return await File.ReadAllTextAsync(Path.Combine(target, "note.txt"));
        }
        var bytes = new byte[4096];
        await using var device = new FileStream(target, FileMode.Open, FileAccess.Read);
        await device.ReadExactlyAsync(bytes);
        return System.Text.Encoding.UTF8.GetString(bytes).TrimEnd('\0');
    }
}
