using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using Xunit.Abstractions;

namespace CsiDriver.ConformanceTests.NodeRestart;

/// <summary>
/// The node plugin restarts on every upgrade, crash, OOM kill and failed liveness probe; the
/// pods' I/O must not notice beyond a pause. Each test runs csidriver with a session holder
/// (started by the test, as its own container would be), and restarts csidriver under a
/// writer: gracefully (SIGTERM) and as a crash (SIGKILL).
/// </summary>
public sealed class NodeRestartTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private static readonly DriverSettings WithHolder = new() { SessionHolder = true };

    [Theory]
    [InlineData("ext4")]
    [InlineData("xfs")]
    public async Task Fsynced_files_survive_a_SIGTERM_restart_and_a_SIGKILL_restart_with_no_write_error(string fsType)
    {
        NodeSteps.RequireKernelPath();
        using var workspace = DriverWorkspace.Create();
        await using var holder = await SessionHolderProcess.StartAsync(workspace);
        var driver = await DriverProcess.StartAsync(workspace, WithHolder);
        var capability = Volumes.Mount(fsType);
        var volumeId = (await driver.Csi.CreateAsync("restart-" + fsType, capability, 512 * Volumes.MiB)).VolumeId;
        FsyncedFileWriter? writer = null;
        try
        {
            await driver.Csi.StageAsync(workspace, volumeId, capability);
            await driver.Csi.PublishOnNodeAsync(workspace, volumeId, capability);
            writer = new FsyncedFileWriter(NodeSteps.TargetPath(workspace, volumeId));
            await writer.WaitForProgressAsync(100, Patience);

            await driver.StopAsync();
            await driver.DisposeAsync();
            driver = await DriverProcess.StartAsync(workspace, WithHolder);
            await writer.WaitForProgressAsync(100, Patience);

            await driver.CrashAsync();
            await driver.DisposeAsync();
            driver = await DriverProcess.StartAsync(workspace, WithHolder);
            await writer.WaitForProgressAsync(100, Patience);
            await writer.StopAsync(Patience);

            output.WriteLine($"{fsType}: {writer.Durable} files fsynced across a SIGTERM restart and a SIGKILL restart; " +
                $"longest stall {writer.LongestStall.TotalSeconds:0.00} s; {writer.Errors.Count} write errors");
            Assert.Empty(writer.Errors);

            // Read back from a fresh mount, so every byte comes from the engine, not a page cache.
            await driver.Csi.UnpublishOnNodeAsync(workspace, volumeId);
            await driver.Csi.UnstageAsync(workspace, volumeId);
            await driver.Csi.StageAsync(workspace, volumeId, capability);
            Assert.Empty(writer.Damaged(NodeSteps.StagingPath(workspace, volumeId)));
        }
        finally
        {
            await StopQuietly(writer is null ? null : () => writer.StopAsync(Patience));
            await driver.Csi.CleanUpAsync(workspace, volumeId);
            await driver.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_O_DIRECT_block_writer_sees_no_error_and_reads_back_every_write_across_a_SIGKILL_and_a_SIGTERM_restart()
    {
        NodeSteps.RequireKernelPath();
        using var workspace = DriverWorkspace.Create();
        await using var holder = await SessionHolderProcess.StartAsync(workspace);
        var driver = await DriverProcess.StartAsync(workspace, WithHolder);
        var capability = Volumes.Block();
        const long size = 64 * Volumes.MiB;
        var volumeId = (await driver.Csi.CreateAsync("restart-block", capability, size)).VolumeId;
        DirectBlockWriter? writer = null;
        try
        {
            await driver.Csi.StageAsync(workspace, volumeId, capability);
            await driver.Csi.PublishOnNodeAsync(workspace, volumeId, capability);
            writer = new DirectBlockWriter(NodeSteps.TargetPath(workspace, volumeId), size);
            await writer.WaitForProgressAsync(500, Patience);

            await driver.CrashAsync();
            await driver.DisposeAsync();
            driver = await DriverProcess.StartAsync(workspace, WithHolder);
            await writer.WaitForProgressAsync(500, Patience);

            await driver.StopAsync();
            await driver.DisposeAsync();
            driver = await DriverProcess.StartAsync(workspace, WithHolder);
            await writer.WaitForProgressAsync(500, Patience);
            await writer.StopAsync(Patience);

            output.WriteLine($"block: {writer.Completed} O_DIRECT writes across a SIGKILL restart and a SIGTERM restart; " +
                $"longest stall {writer.LongestStall.TotalSeconds:0.00} s; {writer.Errors.Count} errors");
            Assert.Empty(writer.Errors);
            Assert.Empty(writer.Damaged());
        }
        finally
        {
            await StopQuietly(writer is null ? null : () => writer.StopAsync(Patience));
            writer?.Dispose();
            await driver.Csi.CleanUpAsync(workspace, volumeId);
            await driver.DisposeAsync();
        }
    }

    [Fact]
    public async Task Unpublish_and_unstage_work_after_a_SIGTERM_restart_and_after_a_SIGKILL_restart_and_leave_nothing_behind()
    {
        NodeSteps.RequireKernelPath();
        using var workspace = DriverWorkspace.Create();
        await using var holder = await SessionHolderProcess.StartAsync(workspace);
        var driver = await DriverProcess.StartAsync(workspace, WithHolder);
        var capability = Volumes.Mount("ext4");
        var volumeId = (await driver.Csi.CreateAsync("restart-unstage", capability, 64 * Volumes.MiB)).VolumeId;
        try
        {
            foreach (var crash in new[] { false, true })
            {
                await driver.Csi.StageAsync(workspace, volumeId, capability);
                await driver.Csi.PublishOnNodeAsync(workspace, volumeId, capability);
                await File.WriteAllTextAsync(Path.Combine(NodeSteps.TargetPath(workspace, volumeId), $"crash-{crash}.txt"), "before the restart");

                await (crash ? driver.CrashAsync() : driver.StopAsync());
                await driver.DisposeAsync();
                driver = await DriverProcess.StartAsync(workspace, WithHolder);

                var stats = await driver.Csi.NodeGetVolumeStats(new() { VolumeId = volumeId, VolumePath = NodeSteps.TargetPath(workspace, volumeId) });
                Assert.False(stats.VolumeCondition.Abnormal, stats.VolumeCondition.Message);
                await driver.Csi.UnpublishOnNodeAsync(workspace, volumeId);
                await driver.Csi.UnstageAsync(workspace, volumeId);
                Assert.Empty(HostInspection.MountsUnder(workspace.Root));
                Assert.Empty(HostInspection.LoopDevicesUnder(workspace.Root));
                Assert.DoesNotContain("/dev/fuse", HostInspection.OpenDescriptors(holder.Pid));
            }
            await driver.Csi.StageAsync(workspace, volumeId, capability);
            Assert.Equal("before the restart", await File.ReadAllTextAsync(Path.Combine(NodeSteps.StagingPath(workspace, volumeId), "crash-True.txt")));
        }
        finally
        {
            await driver.Csi.CleanUpAsync(workspace, volumeId);
            await driver.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_killed_session_holder_shows_in_the_volume_condition_and_staging_again_repairs_it()
    {
        NodeSteps.RequireKernelPath();
        using var workspace = DriverWorkspace.Create();
        var holder = await SessionHolderProcess.StartAsync(workspace);
        var driver = await DriverProcess.StartAsync(workspace, WithHolder);
        var capability = Volumes.Mount("ext4");
        var volumeId = (await driver.Csi.CreateAsync("holder-killed", capability, 64 * Volumes.MiB)).VolumeId;
        var staging = NodeSteps.StagingPath(workspace, volumeId);
        try
        {
            await driver.Csi.StageAsync(workspace, volumeId, capability);
            var kept = await ConditionAsync(driver, volumeId, staging);
            Assert.False(kept.Abnormal, kept.Message);
            Assert.Contains("session holder", kept.Message);

            await holder.KillAsync();
            await holder.DisposeAsync();
            var unkept = await ConditionAsync(driver, volumeId, staging);
            Assert.True(unkept.Abnormal, "a volume whose session no holder keeps must be reported abnormal");
            Assert.Contains("session holder", unkept.Message);
            Assert.Contains("stage the volume again", unkept.Message);
            // The volume itself still works: only its protection against a restart is gone.
            await File.WriteAllTextAsync(Path.Combine(staging, "while-unkept.txt"), "written without a holder");

            holder = await SessionHolderProcess.StartAsync(workspace);
            await driver.Csi.StageAsync(workspace, volumeId, capability);
            var repaired = await ConditionAsync(driver, volumeId, staging);
            Assert.False(repaired.Abnormal, repaired.Message);

            // Repaired for real: the new holder carries the session through a crash.
            await driver.CrashAsync();
            await driver.DisposeAsync();
            driver = await DriverProcess.StartAsync(workspace, WithHolder);
            await File.WriteAllTextAsync(Path.Combine(staging, "after-crash.txt"), "written after the crash");
            Assert.False((await ConditionAsync(driver, volumeId, staging)).Abnormal);
            Assert.Equal("written without a holder", await File.ReadAllTextAsync(Path.Combine(staging, "while-unkept.txt")));
        }
        finally
        {
            await driver.Csi.CleanUpAsync(workspace, volumeId);
            await driver.DisposeAsync();
            await holder.DisposeAsync();
        }
    }

    private static async Task<VolumeCondition> ConditionAsync(DriverProcess driver, string volumeId, string path) =>
        (await driver.Csi.NodeGetVolumeStats(new() { VolumeId = volumeId, VolumePath = path })).VolumeCondition;

    /// <summary>Stops a writer in a finally block without hiding the failure that got us there.</summary>
    private static async Task StopQuietly(Func<Task>? stop)
    {
        try
        {
            if (stop is not null)
            {
                await stop();
            }
        }
        catch (TimeoutException)
        {
        }
    }
}
