using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Engine.Nbd;
using CsiDriver.Rpc;
using CsiDriver.TestSupport.Consistency;
using Xunit.Abstractions;
using static CsiDriver.ConformanceTests.Replication.ReplicationSteps;
using InfoStatus = CsiAddons.Replication.GetVolumeReplicationInfoResponse.Types.Status;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>
/// Forced promotion without split brain, with two real processes whose site links pass through
/// the fault proxies both ways: the old primary is fenced before the backup takes a write, and
/// one that missed the promotion is fenced at its first contact, also across restarts. The
/// promotions go as the csi-addons controller makes them (volumereplication_controller.go):
/// PromoteVolume without force, and on FAILED_PRECONDITION at once with force.
/// </summary>
[Collection(TwoSitesCollection.Name)]
public sealed class ReplicationFencingTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_forced_promotion_while_the_main_writes_fences_it_before_the_backup_takes_a_write()
    {
        await using var sites = await TwoSites.StartAsync();
        await using var group = await ReplicatedGroup.StartAsync(sites);
        var id = group.GroupId;
        await group.EnableAsync();
        await group.WaitUntilReplicatingAsync();

        // The workload keeps writing at the main (500 transactions a second) through the promotion.
        await Bounded(sites, PromoteAsTheControllerDoesAsync(sites, sites.Backup, id), "the promotion");
        var refusal = await Assert.ThrowsAsync<IOException>(() => Bounded(sites, group.Writing, "the workload at the main to fail"));
        var committed = group.Workload.Committed;

        // From the fence on every write at the main fails, and all it acknowledged before came
        // first: before the new primary writes, the two sites hold the same bytes.
        output.WriteLine($"the main's workload committed {committed}, then: {refusal.Message}");
        await AssertWritesRefusedAsync(sites.Main.NbdSocket, group.PrimaryId);
        await AssertSameDataAsync(sites, group);
        var backup = await ReadAsync(sites.Backup, group);
        Assert.True(backup.IsConsistent && backup.MirrorHighest == committed, $"backup {backup}, main committed {committed}");

        var promoted = await sites.Backup.Addons.GroupReplicationInfoAsync(id);
        var fenced = await sites.Main.Addons.GroupReplicationInfoAsync(id);
        output.WriteLine($"new primary: {promoted.StatusMessage}\nold primary: {fenced.StatusMessage}");
        Assert.Contains("epoch 2", promoted.StatusMessage, StringComparison.Ordinal);
        Assert.Contains("everything it acknowledged was applied first", promoted.StatusMessage, StringComparison.Ordinal);
        Assert.Equal(InfoStatus.Error, fenced.Status);
        Assert.StartsWith("fenced", fenced.StatusMessage, StringComparison.Ordinal);
        var metrics = new PrometheusSamples(await sites.Main.ScrapeMetricsAsync());
        Assert.Equal((double?)1, metrics.Find("formation_replication_fenced", "replication", id));
        Assert.Equal((double?)1, metrics.Find("formation_replication_epoch", "replication", id));
        var newMetrics = new PrometheusSamples(await sites.Backup.ScrapeMetricsAsync());
        Assert.Equal((double?)2, newMetrics.Find("formation_replication_epoch", "replication", id));
        Assert.Equal((double?)0, newMetrics.Find("formation_replication_promotion_lost_records", "replication", id));

        // The CSI side names the fence too; the new primary takes writes.
        var expand = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => sites.Main.Csi.ControllerExpandVolume(new Csi.V1.ControllerExpandVolumeRequest
        {
            VolumeId = group.PrimaryId,
            CapacityRange = new Csi.V1.CapacityRange { RequiredBytes = 2 * ReplicatedGroup.Layout.DeviceBytes },
        }));
        Assert.Contains("fenced", expand.Message, StringComparison.Ordinal);
        await TransactionWriter.WriteAsync(sites.Backup.NbdSocket, group.PrimaryId, group.MirrorId, committed + 2, 4);
    }

    [Fact]
    public async Task After_a_forced_promotion_across_a_partition_the_restarted_old_main_never_accepts_a_write()
    {
        await using var sites = await TwoSites.StartAsync();
        await using var group = await ReplicatedGroup.StartAsync(sites);
        var id = group.GroupId;
        await group.EnableAsync();
        await group.WaitUntilReplicatingAsync();

        // The sites lose each other; the main goes down too. The backup takes over on the epoch alone.
        sites.Link.Down();
        sites.ReverseLink.Down();
        var committed = await group.StopWritingAsync();
        await sites.Main.CrashAsync();
        await PromoteAsTheControllerDoesAsync(sites, sites.Backup, id);
        var promoted = await sites.Backup.Addons.GroupReplicationInfoAsync(id);
        output.WriteLine($"new primary: {promoted.StatusMessage}");
        Assert.Contains("could not be reached", promoted.StatusMessage, StringComparison.Ordinal);

        // The links are back and the old main restarts: it asks before it serves, and never takes a write.
        sites.Link.Up();
        sites.ReverseLink.Up();
        await sites.Main.StartAsync();
        await AssertWritesRefusedAsync(sites.Main.NbdSocket, group.PrimaryId);
        var fenced = await sites.Main.Addons.GroupReplicationInfoAsync(id);
        Assert.Equal(InfoStatus.Error, fenced.Status);
        Assert.Contains("epoch 2", fenced.StatusMessage, StringComparison.Ordinal);

        // Durable: restarted again without its peer, it still refuses, from its own record.
        sites.Link.Down();
        sites.ReverseLink.Down();
        await sites.Main.CrashAsync();
        await sites.Main.StartAsync();
        await AssertWritesRefusedAsync(sites.Main.NbdSocket, group.MirrorId);
        Assert.Equal(InfoStatus.Error, (await sites.Main.Addons.GroupReplicationInfoAsync(id)).Status);

        // Demoted and resynced, it follows the new primary.
        sites.Link.Up();
        sites.ReverseLink.Up();
        await TransactionWriter.WriteAsync(sites.Backup.NbdSocket, group.PrimaryId, group.MirrorId, committed + 1, 4);
        await sites.Main.Addons.DemoteGroupAsync(id);
        await WaitForResyncAsync(sites.Main, id);
        await WaitForTransactionAsync(sites.Main, group, committed + 4, explain: sites.Output);
        await AssertSameDataAsync(sites, group);
    }

    /// <summary>The controller's sequences, repeated with the roles swapped each round: to make a
    /// site primary, unforced then forced; to make the other secondary, demote (twice, as the
    /// controller repeats it on its next pass) and resync until ready.</summary>
    [Fact]
    public async Task The_controller_sequence_repeated_and_interleaved_with_demote_and_resync_keeps_one_writable_primary()
    {
        await using var sites = await TwoSites.StartAsync();
        await using var group = await ReplicatedGroup.StartAsync(sites);
        var id = group.GroupId;
        await group.EnableAsync();
        await group.WaitUntilReplicatingAsync();
        var next = await group.StopWritingAsync() + 1;
        var (primary, secondary) = (sites.Main, sites.Backup);
        for (var round = 1; round <= 3; round++)
        {
            await PromoteAsTheControllerDoesAsync(sites, secondary, id);
            await AssertWritesRefusedAsync(primary.NbdSocket, group.PrimaryId);
            await TransactionWriter.WriteAsync(secondary.NbdSocket, group.PrimaryId, group.MirrorId, next, 4);
            next += 4;
            Assert.Contains($"epoch {round + 1}", (await secondary.Addons.GroupReplicationInfoAsync(id)).StatusMessage, StringComparison.Ordinal);

            await primary.Addons.DemoteGroupAsync(id);
            await primary.Addons.DemoteGroupAsync(id);
            await WaitForResyncAsync(primary, id);
            await WaitForTransactionAsync(primary, group, next - 1, explain: sites.Output);
            await AssertSameDataAsync(sites, group);
            output.WriteLine($"round {round}: {secondary.Name} primary at epoch {round + 1}; {primary.Name} resynced");
            (primary, secondary) = (secondary, primary);
        }
    }

    /// <summary>Each step of a role change killed (SIGKILL) between its two durable effects, then
    /// the site restarted: what it accepts follows its record, and there is never a second
    /// writable primary. The controller's retry then finishes the change.</summary>
    [Theory]
    [InlineData("backup", "promote-peer-fenced")]
    [InlineData("backup", "promote-recorded")]
    [InlineData("main", "fence-recorded")]
    [InlineData("main", "demote-drained")]
    public async Task A_site_killed_in_a_role_change_restarts_in_the_role_it_recorded(string where, string step)
    {
        await using var sites = await TwoSites.StartAsync();
        await using var group = await ReplicatedGroup.StartAsync(sites);
        var id = group.GroupId;
        await group.EnableAsync();
        await group.WaitUntilReplicatingAsync();
        var committed = await group.StopWritingAsync();
        await group.WaitForBackupAsync(committed, Timeout);
        var crashing = where == "main" ? sites.Main : sites.Backup;
        crashing.CrashAt = step;
        await crashing.StopAsync();
        await crashing.StartAsync();

        // The change that reaches the step: a demotion of the main, or the backup's promotion.
        var change = step == "demote-drained"
            ? sites.Main.Addons.DemoteGroupAsync(id)
            : (Task)sites.Backup.Addons.PromoteGroupAsync(id, force: true);
        await crashing.WaitForCrashAsync();
        try
        {
            await change;
        }
        catch (RpcException e)
        {
            output.WriteLine($"the change failed with the crash: {e.Status}: {e.Message}");
        }
        await crashing.StartAsync();
        output.WriteLine($"{where} killed at {step}; restarted");

        switch (step)
        {
            case "promote-peer-fenced":
                // The main was fenced, the backup not yet primary: nobody takes writes until the retry.
                await AssertWritesRefusedAsync(sites.Main.NbdSocket, group.PrimaryId);
                await AssertWritesRefusedAsync(sites.Backup.NbdSocket, group.PrimaryId);
                await PromoteAsTheControllerDoesAsync(sites, sites.Backup, id);
                break;
            case "promote-recorded":
                // Recorded primary: writable after the restart without another call.
                await AssertWritesRefusedAsync(sites.Main.NbdSocket, group.PrimaryId);
                break;
            case "fence-recorded":
                // The fence was recorded before the crash: the restarted main refuses, even cut off.
                sites.Link.Down();
                sites.ReverseLink.Down();
                await sites.Main.CrashAsync();
                await sites.Main.StartAsync();
                await AssertWritesRefusedAsync(sites.Main.NbdSocket, group.PrimaryId);
                sites.Link.Up();
                sites.ReverseLink.Up();
                break;
            case "demote-drained":
                // Still primary on record, but fenced for the demotion: refuses, and the repeat finishes it.
                await AssertWritesRefusedAsync(sites.Main.NbdSocket, group.PrimaryId);
                await sites.Main.Addons.DemoteGroupAsync(id);
                await PromoteAsTheControllerDoesAsync(sites, sites.Backup, id);
                break;
        }
        Assert.Contains("epoch 2", (await sites.Backup.Addons.GroupReplicationInfoAsync(id)).StatusMessage, StringComparison.Ordinal);
        await TransactionWriter.WriteAsync(sites.Backup.NbdSocket, group.PrimaryId, group.MirrorId, committed + 1, 4);
        await AssertWritesRefusedAsync(sites.Main.NbdSocket, group.MirrorId);
    }

    /// <summary>A step that must end: past two minutes the test fails with both sites' output.</summary>
    private static async Task<T> Bounded<T>(TwoSites sites, Task<T> step, string what)
    {
        try
        {
            return await step.WaitAsync(TimeSpan.FromMinutes(2));
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"{what} did not end within 2 minutes\n{sites.Output()}");
        }
    }

    private static Task Bounded(TwoSites sites, Task step, string what) =>
        Bounded(sites, step.ContinueWith(t => { t.GetAwaiter().GetResult(); return true; }, TaskScheduler.Default), what);

    /// <summary>PromoteVolume as the csi-addons controller makes it: without force, and on
    /// FAILED_PRECONDITION at once with force.</summary>
    private static async Task PromoteAsTheControllerDoesAsync(TwoSites sites, ReplicationSite site, string id)
    {
        try
        {
            await site.Addons.PromoteGroupAsync(id, force: false);
        }
        catch (RpcException e) when (e.Status == StatusCode.FailedPrecondition)
        {
            await sites.ExplainFailureAsync(() => site.Addons.PromoteGroupAsync(id, force: true));
        }
    }

    private static async Task<ConsistencyReport> ReadAsync(ReplicationSite site, ReplicatedGroup group)
    {
        await using var replicas = await ReplicaPair.OpenAsync(site.NbdSocket, group.PrimaryId, group.MirrorId, readOnly: false);
        return await replicas.CheckAsync();
    }
}
