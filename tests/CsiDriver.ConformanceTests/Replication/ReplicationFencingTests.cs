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
        var writer = MainWriter.Start(sites, group, await group.StopWritingAsync());
        await writer.WaitForAsync(50);

        await PromoteAsTheControllerDoesAsync(sites, sites.Backup, id);
        var written = await writer.StopAsync();

        // From the fence on every write at the main failed, and all it acknowledged before came
        // first: before the new primary writes, the two sites hold the same bytes.
        output.WriteLine($"main writer: {written}");
        Assert.NotNull(written.Refusal);
        Assert.Equal(0, written.AcknowledgedAfterRefusal);
        await AssertSameDataAsync(sites, group);
        var backup = await ReadAsync(sites.Backup, group);
        Assert.True(backup.IsConsistent && backup.MirrorHighest == written.Committed, $"backup {backup}, main committed {written.Committed}");

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
        await TransactionWriter.WriteAsync(sites.Backup.NbdSocket, group.PrimaryId, group.MirrorId, written.Committed + 1, 4);
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
        await using var replicas = await ReplicaPair.OpenAsync(site.NbdSocket, group.PrimaryId, group.MirrorId, readOnly: true);
        return await replicas.CheckAsync();
    }

    /// <summary>What the writer at the main saw: the newest transaction committed (both records
    /// acknowledged), the first refusal, and how many writes were acknowledged after it.</summary>
    private sealed record Written(long Committed, IOException? Refusal, int AcknowledgedAfterRefusal);

    /// <summary>Continues the workload's transactions at the main through its NBD socket until the
    /// writes are refused, then tries a few more, each of which must fail too. Bounded in count.</summary>
    private sealed class MainWriter
    {
        private const int TriesAfterRefusal = 20;
        private readonly Task<Written> _running;
        private long _committed;

        private MainWriter(TwoSites sites, ReplicatedGroup group, long committed)
        {
            _committed = committed;
            _running = Task.Run(() => RunAsync(sites.Main.NbdSocket, group));
        }

        public static MainWriter Start(TwoSites sites, ReplicatedGroup group, long committed) => new(sites, group, committed);

        public async Task WaitForAsync(int transactions)
        {
            var target = Interlocked.Read(ref _committed) + transactions;
            var deadline = DateTime.UtcNow + Timeout;
            while (Interlocked.Read(ref _committed) < target)
            {
                Assert.False(_running.IsCompleted, $"the writer at the main stopped early: {(_running.IsFaulted ? _running.Exception : _running.Result)}");
                Assert.True(DateTime.UtcNow < deadline, $"the writer at the main committed only up to {_committed} in {Timeout.TotalSeconds} s");
                await Task.Delay(10);
            }
        }

        public Task<Written> StopAsync() => _running.WaitAsync(Timeout);

        private async Task<Written> RunAsync(string nbdSocket, ReplicatedGroup group)
        {
            var layout = ReplicatedGroup.Layout;
            await using var primary = await NbdBlockDevice.OpenAsync(nbdSocket, group.PrimaryId);
            await using var mirror = await NbdBlockDevice.OpenAsync(nbdSocket, group.MirrorId);
            var block = new byte[TransactionRecord.Size];
            IOException? refusal = null;
            var afterRefusal = 0;
            var tries = 0;
            for (var n = Interlocked.Read(ref _committed) + 1; n < _committed + 1_000_000 && tries < TriesAfterRefusal; n++)
            {
                try
                {
                    new TransactionRecord(TransactionSide.Primary, n).Write(block);
                    await primary.WriteAsync(layout.OffsetOf(n), block, fua: false);
                    afterRefusal += refusal is null ? 0 : 1;
                    new TransactionRecord(TransactionSide.Mirror, n).Write(block);
                    await mirror.WriteAsync(layout.OffsetOf(n), block, fua: false);
                    afterRefusal += refusal is null ? 0 : 1;
                    if (refusal is null)
                    {
                        Interlocked.Exchange(ref _committed, n);
                    }
                }
                catch (IOException e)
                {
                    refusal ??= e;
                    tries++;
                }
            }
            return new Written(Interlocked.Read(ref _committed), refusal, afterRefusal);
        }
    }
}
