using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.ConformanceTests.NodeRestart;

/// <summary>Attaching and detaching, many times over, leaves nothing behind: no descriptor in
/// csidriver or the session holder, no mount, no loop device, no process.</summary>
public sealed class AttachCycleTests
{
    private const int Cycles = 200;

    [Fact]
    public async Task Two_hundred_stage_and_unstage_cycles_leave_no_descriptor_mount_loop_device_or_process_behind()
    {
        await using var node = await RestartableNode.StartAsync();
        var (workspace, driver, holder) = (node.Workspace, node.Driver, node.Holder);
        var capability = Volumes.Block();
        var volumeId = (await driver.Csi.CreateAsync("cycles", capability, 16 * Volumes.MiB)).VolumeId;
        try
        {
            // One cycle first, so whatever a first attach creates for good (threads, caches) is counted in the baseline.
            await driver.Csi.StageAsync(workspace, volumeId, capability);
            await driver.Csi.UnstageAsync(workspace, volumeId);
            var driverDescriptors = HostInspection.OpenDescriptors(driver.Pid).Count;
            var holderDescriptors = HostInspection.OpenDescriptors(holder.Pid).Count;

            for (var cycle = 0; cycle < Cycles; cycle++)
            {
                await driver.Csi.StageAsync(workspace, volumeId, capability);
                Assert.Single(HostInspection.LoopDevicesUnder(workspace.DataDirectory));
                Assert.Contains("/dev/fuse", HostInspection.OpenDescriptors(holder.Pid));
                await driver.Csi.UnstageAsync(workspace, volumeId);
            }

            Assert.Empty(HostInspection.LoopDevicesUnder(workspace.Root));
            Assert.Empty(HostInspection.MountsUnder(workspace.Root));
            Assert.Empty(HostInspection.Children(driver.Pid));
            var driverNow = HostInspection.OpenDescriptors(driver.Pid);
            Assert.DoesNotContain(driverNow, d => d == "/dev/fuse" || d.StartsWith("/dev/loop", StringComparison.Ordinal));
            Assert.DoesNotContain("/dev/fuse", HostInspection.OpenDescriptors(holder.Pid));
            Assert.Equal(holderDescriptors, HostInspection.OpenDescriptors(holder.Pid).Count);
            // A few descriptors come and go with the runtime (sockets of calls in flight); a leak
            // of even one per cycle would show as hundreds.
            Assert.InRange(driverNow.Count, 0, driverDescriptors + 10);
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
            }
        }
    }
}
