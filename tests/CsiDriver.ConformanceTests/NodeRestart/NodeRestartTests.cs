using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using Xunit.Abstractions;

namespace CsiDriver.ConformanceTests.NodeRestart;

/// <summary>
/// The node plugin restarts on every upgrade, crash, OOM kill and failed liveness probe; the
/// pods' I/O must not notice beyond a pause. Each test runs csidriver with a session holder
/// and restarts csidriver under a writer: gracefully (SIGTERM) and as a crash (SIGKILL).
/// </summary>
public sealed class NodeRestartTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private const int MaxKillsForAResend = 10;

    [Theory]
    [InlineData("ext4")]
    [InlineData("xfs")]
    public async Task Fsynced_files_survive_a_SIGTERM_restart_and_a_SIGKILL_restart_with_no_write_error(string fsType)
    {
        await using var node = await RestartableNode.StartAsync();
        var capability = Volumes.Mount(fsType);
        var volumeId = (await node.Csi.CreateAsync("restart-" + fsType, capability, 512 * Volumes.MiB)).VolumeId;
        FsyncedFileWriter? writer = null;
        try
        {
            await node.Csi.StageAsync(node.Workspace, volumeId, capability);
            await node.Csi.PublishOnNodeAsync(node.Workspace, volumeId, capability);
            writer = new FsyncedFileWriter(NodeSteps.TargetPath(node.Workspace, volumeId));
            await WriteAcrossRestartsAsync(node, writer, 100, crashes: [false, true]);

            output.WriteLine($"{fsType}: {writer.Completed} files fsynced across a SIGTERM restart and a SIGKILL restart; " +
                $"longest stall {writer.LongestStall.TotalSeconds:0.00} s; {writer.Errors.Count} write errors; {node.ResentRequests} requests resent by the kernel");
            Assert.Empty(writer.Errors);

            // Read back from a fresh mount, so every byte comes from the engine, not a page cache.
            await node.Csi.UnpublishOnNodeAsync(node.Workspace, volumeId);
            await node.Csi.UnstageAsync(node.Workspace, volumeId);
            await node.Csi.StageAsync(node.Workspace, volumeId, capability);
            Assert.Empty(writer.Damaged(NodeSteps.StagingPath(node.Workspace, volumeId)));
        }
        finally
        {
            await StopQuietly(writer);
            await node.Csi.CleanUpAsync(node.Workspace, volumeId);
        }
    }

    [Fact]
    public async Task An_O_DIRECT_block_writer_sees_no_error_and_reads_back_every_write_across_SIGKILLs_with_requests_in_flight_and_a_SIGTERM_restart()
    {
        await using var node = await RestartableNode.StartAsync();
        var capability = Volumes.Block();
        const long size = 64 * Volumes.MiB;
        var volumeId = (await node.Csi.CreateAsync("restart-block", capability, size)).VolumeId;
        DirectBlockWriter? writer = null;
        try
        {
            await node.Csi.StageAsync(node.Workspace, volumeId, capability);
            await node.Csi.PublishOnNodeAsync(node.Workspace, volumeId, capability);
            // The writer verifies the first half; fio keeps csidriver busy in the second, so a
            // SIGKILL often catches requests read and unanswered: kill again (a bounded number of
            // times) until the kernel has resent one.
            var device = NodeSteps.TargetPath(node.Workspace, volumeId);
            writer = new DirectBlockWriter(device, size / 2);
            await using var load = FioLoad.Start(device, size / 2, size / 2);
            var kills = 0;
            await writer.WaitForProgressAsync(500, Patience);
            while (node.ResentRequests == 0 && kills < MaxKillsForAResend)
            {
                await node.RestartAsync(crash: true);
                kills++;
                await writer.WaitForProgressAsync(500, Patience);
            }
            await node.RestartAsync(crash: false);
            await writer.WaitForProgressAsync(500, Patience);
            await writer.StopAsync(Patience);
            await load.StopAsync();

            output.WriteLine($"block: {writer.Completed} O_DIRECT writes across {kills} SIGKILL restarts and a SIGTERM restart; " +
                $"longest stall {writer.LongestStall.TotalSeconds:0.00} s; {writer.Errors.Count} errors; {node.ResentRequests} requests resent by the kernel");
            Assert.True(node.ResentRequests > 0, $"{kills} SIGKILLs under the writer and no request was ever caught in flight and resent");
            Assert.Empty(writer.Errors);
            Assert.Empty(writer.Damaged());
        }
        finally
        {
            await StopQuietly(writer);
            writer?.Dispose();
            await node.Csi.CleanUpAsync(node.Workspace, volumeId);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Unpublish_and_unstage_work_after_a_SIGTERM_restart_and_after_a_SIGKILL_restart_and_leave_nothing_behind(bool block)
    {
        await using var node = await RestartableNode.StartAsync();
        var capability = block ? Volumes.Block() : Volumes.Mount("ext4");
        var volumeId = (await node.Csi.CreateAsync("restart-unstage", capability, 64 * Volumes.MiB)).VolumeId;
        var target = NodeSteps.TargetPath(node.Workspace, volumeId);
        try
        {
            foreach (var crash in new[] { false, true })
            {
                await node.Csi.StageAsync(node.Workspace, volumeId, capability);
                await node.Csi.PublishOnNodeAsync(node.Workspace, volumeId, capability);
                if (!block)
                {
                    await File.WriteAllTextAsync(Path.Combine(target, $"crash-{crash}.txt"), "before the restart");
                }

                await node.RestartAsync(crash);

                var condition = await ConditionAsync(node, volumeId, target);
                Assert.False(condition.Abnormal, condition.Message);
                await node.Csi.UnpublishOnNodeAsync(node.Workspace, volumeId);
                await node.Csi.UnstageAsync(node.Workspace, volumeId);
                Assert.Empty(HostInspection.MountsUnder(node.Workspace.Root));
                Assert.Empty(HostInspection.LoopDevicesUnder(node.Workspace.Root));
                Assert.DoesNotContain("/dev/fuse", HostInspection.OpenDescriptors(node.Holder.Pid));
            }
            if (!block)
            {
                await node.Csi.StageAsync(node.Workspace, volumeId, capability);
                Assert.Equal("before the restart", await File.ReadAllTextAsync(Path.Combine(NodeSteps.StagingPath(node.Workspace, volumeId), "crash-True.txt")));
            }
        }
        finally
        {
            await node.Csi.CleanUpAsync(node.Workspace, volumeId);
        }
    }

    [Fact]
    public async Task A_killed_session_holder_shows_in_the_volume_condition_and_staging_again_repairs_it()
    {
        await using var node = await RestartableNode.StartAsync();
        var capability = Volumes.Mount("ext4");
        var volumeId = (await node.Csi.CreateAsync("holder-killed", capability, 64 * Volumes.MiB)).VolumeId;
        var staging = NodeSteps.StagingPath(node.Workspace, volumeId);
        try
        {
            await node.Csi.StageAsync(node.Workspace, volumeId, capability);
            var kept = await ConditionAsync(node, volumeId, staging);
            Assert.False(kept.Abnormal, kept.Message);
            Assert.Contains("session holder", kept.Message);

            await node.KillHolderAsync();
            var unkept = await ConditionAsync(node, volumeId, staging);
            Assert.True(unkept.Abnormal, "a volume whose session no holder keeps must be reported abnormal");
            Assert.Contains("session holder", unkept.Message);
            Assert.Contains("stage the volume again", unkept.Message);
            // The volume itself still works: only its protection against a restart is gone.
            await File.WriteAllTextAsync(Path.Combine(staging, "while-unkept.txt"), "written without a holder");

            await node.StartHolderAsync();
            await node.Csi.StageAsync(node.Workspace, volumeId, capability);
            var repaired = await ConditionAsync(node, volumeId, staging);
            Assert.False(repaired.Abnormal, repaired.Message);

            // Repaired for real: the new holder carries the session through a crash.
            await node.RestartAsync(crash: true);
            await File.WriteAllTextAsync(Path.Combine(staging, "after-crash.txt"), "written after the crash");
            Assert.False((await ConditionAsync(node, volumeId, staging)).Abnormal);
            Assert.Equal("written without a holder", await File.ReadAllTextAsync(Path.Combine(staging, "while-unkept.txt")));
        }
        finally
        {
            await node.Csi.CleanUpAsync(node.Workspace, volumeId);
        }
    }

    /// <summary>Lets the writer progress, then after each restart (a crash or not) again, then stops it.</summary>
    private static async Task WriteAcrossRestartsAsync(RestartableNode node, PodWriter writer, int progress, bool[] crashes)
    {
        await writer.WaitForProgressAsync(progress, Patience);
        foreach (var crash in crashes)
        {
            await node.RestartAsync(crash);
            await writer.WaitForProgressAsync(progress, Patience);
        }
        await writer.StopAsync(Patience);
    }

    private static async Task<VolumeCondition> ConditionAsync(RestartableNode node, string volumeId, string path) =>
        (await node.Csi.NodeGetVolumeStats(new() { VolumeId = volumeId, VolumePath = path })).VolumeCondition;

    /// <summary>Stops a writer in a finally block without hiding the failure that got us there.</summary>
    private static async Task StopQuietly(PodWriter? writer)
    {
        try
        {
            if (writer is not null)
            {
                await writer.StopAsync(Patience);
            }
        }
        catch (TimeoutException)
        {
        }
    }
}
