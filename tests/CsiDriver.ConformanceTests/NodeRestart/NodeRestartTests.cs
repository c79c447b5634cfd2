using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.ConformanceTests;

/// <summary>
/// A FUSE attachment is connected to the NBD server inside csidriver, so it cannot outlive a
/// restart: the node must say so in the volume condition, and staging again must repair it.
/// </summary>
public sealed class NodeRestartTests
{
    [Fact]
    public async Task A_lost_attachment_is_reported_abnormal_and_restaging_repairs_it()
    {
        NodeSteps.RequireKernelPath();
        using var workspace = DriverWorkspace.Create();
        var capability = Volumes.Mount("ext4");
        string volumeId;
        var staging = "";
        await using (var first = await DriverProcess.StartAsync(workspace))
        {
            volumeId = (await first.Csi.CreateAsync("restart", capability, 64 * Volumes.MiB)).VolumeId;
            staging = NodeSteps.StagingPath(workspace, volumeId);
            await first.Csi.StageAsync(workspace, volumeId, capability);
            await File.WriteAllTextAsync(Path.Combine(staging, "before.txt"), "written before the restart");
            await first.StopAsync();
        }

        await using var second = await DriverProcess.StartAsync(workspace);
        try
        {
            var stats = await second.Csi.NodeGetVolumeStats(new() { VolumeId = volumeId, VolumePath = staging });
            Assert.True(stats.VolumeCondition.Abnormal);
            Assert.Contains("stage the volume again", stats.VolumeCondition.Message);

            await second.Csi.StageAsync(workspace, volumeId, capability);

            var repaired = await second.Csi.NodeGetVolumeStats(new() { VolumeId = volumeId, VolumePath = staging });
            Assert.False(repaired.VolumeCondition.Abnormal, repaired.VolumeCondition.Message);
            Assert.Equal("written before the restart", await File.ReadAllTextAsync(Path.Combine(staging, "before.txt")));
        }
        finally
        {
            await second.Csi.CleanUpAsync(workspace, volumeId);
        }
        Assert.False(NodeSteps.IsMounted(staging));
    }
}
