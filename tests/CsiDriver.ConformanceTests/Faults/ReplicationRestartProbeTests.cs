using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.ConformanceTests.Replication;
using CsiDriver.Engine.Nbd;
using CsiDriver.Rpc;
using CsiDriver.TestSupport.Consistency;
using Xunit.Abstractions;
using static CsiDriver.ConformanceTests.Replication.ReplicationSteps;
using InfoStatus = CsiAddons.Replication.GetVolumeReplicationInfoResponse.Types.Status;

namespace CsiDriver.ConformanceTests.Faults;

/// <summary>
/// A restart after every replication transition: a replicated group goes through its whole life
/// — enable, demote the main, promote the backup, resync the old main, hand the role back, resync
/// the backup, disable — and after each step the site that made it (after enable and disable,
/// both) is killed with SIGKILL and started again on the same state. Each time it must start,
/// and the group must still behave as its last transition said: the secondary refuses writes,
/// the primary takes them, they reach the other site, and both sites end with the same bytes.
/// </summary>
[Collection(TwoSitesCollection.Name)]
public sealed class ReplicationRestartProbeTests(ITestOutputHelper output)
{
    private const int Writes = 4;
    private readonly FaultFigures _figures = new("restart after every replication transition");
    private ReplicatedGroup? _group;

    [Fact]
    public async Task Every_transition_survives_a_kill_and_restart_of_the_site_that_made_it()
    {
        await using var sites = await TwoSites.StartAsync();
        await using var group = await ReplicatedGroup.StartAsync(sites);
        _group = group;
        var id = group.GroupId;
        var (main, backup) = (sites.Main, sites.Backup);
        await group.EnableAsync();
        await group.WaitUntilReplicatingAsync();
        var newest = await group.StopWritingAsync();

        try
        {
            await StepAsync("enable", id, [main, backup], async () =>
            {
                await main.Addons.WaitForReplicationAsync(id, ReplicatedGroup.Replicating, "replicating after the restart", TimeSpan.FromSeconds(30));
                newest = await WriteAndFollowAsync(main, backup, group, newest);
            });

            await WaitForTransactionAsync(backup, group, newest);
            await main.Addons.DemoteGroupAsync(id);
            await StepAsync("demote the main", id, [main], () => AssertWritesRefusedAsync(main.NbdSocket, group.PrimaryId));

            await backup.Addons.PromoteGroupAsync(id, force: false);
            await StepAsync("promote the backup", id, [backup], async () =>
            {
                newest = await WriteAndFollowAsync(backup, backup, group, newest, readOnly: false);
            });

            await WaitForResyncAsync(main, id);
            await StepAsync("resync the old main", id, [main], async () =>
            {
                await AssertWritesRefusedAsync(main.NbdSocket, group.PrimaryId);
                newest = await WriteAndFollowAsync(backup, main, group, newest);
            });

            await backup.Addons.DemoteGroupAsync(id);
            await StepAsync("demote the backup", id, [backup], () => AssertWritesRefusedAsync(backup.NbdSocket, group.PrimaryId));

            await main.Addons.PromoteGroupAsync(id, force: false);
            await StepAsync("promote the main", id, [main], async () =>
            {
                newest = await WriteAndFollowAsync(main, main, group, newest, readOnly: false);
            });

            await WaitForResyncAsync(backup, id);
            await StepAsync("resync the backup", id, [backup], async () =>
            {
                newest = await WriteAndFollowAsync(main, backup, group, newest);
                await AssertSameDataAsync(sites, group);
            });

            await main.Addons.Disable(ReplicationCalls.OfGroup(id));
            await StepAsync("disable", id, [main, backup], async () =>
            {
                var gone = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => main.Addons.GroupReplicationInfoAsync(id));
                _figures.Count("info after disable " + gone.Status);
                newest = await WriteAndFollowAsync(main, main, group, newest, readOnly: false);
            });
        }
        catch (StepFailedException)
        {
            // counted where it failed; the later steps depend on it
        }
        catch (Exception e) when (e is Xunit.Sdk.XunitException or RpcException or IOException)
        {
            _figures.Case($"a transition failed: {e.Message}\n{sites.Output()}");
        }
        _figures.Report(output);
    }

    /// <summary>Kills and restarts each of <paramref name="restarted"/>, then runs <paramref name="check"/>.
    /// A kill loses nothing that reached a journal, so each site must still hold, after its
    /// restart, the newest transaction it held just before its kill (a site that lost some came
    /// back with an older image, which later steps would only see as a gap somewhere else).</summary>
    private async Task StepAsync(string transition, string groupId, ReplicationSite[] restarted, Func<Task> check)
    {
        var held = new List<(ReplicationSite Site, ConsistencyReport Before)>();
        foreach (var site in restarted)
        {
            held.Add((site, await HeldAsync(site)));
            await site.CrashAsync();
            await site.StartAsync();
            _figures.Count("restarts");
        }
        var info = await InfoAsync(restarted[0], groupId);
        try
        {
            foreach (var (site, before) in held)
            {
                var after = await HeldAsync(site);
                Assert.True(after.PrimaryHighest >= before.PrimaryHighest && after.MirrorHighest >= before.MirrorHighest,
                    $"{site.Name} lost transactions to its kill: before it {before}; after the restart {after}; its recovery: {Recovery(site)}");
            }
            await check();
            _figures.Case();
        }
        catch (Exception e) when (e is Xunit.Sdk.XunitException or RpcException or IOException)
        {
            _figures.Case($"after '{transition}' and a restart of {string.Join(", ", restarted.Select(s => s.Name))}: {e.Message} (status {info})");
            throw new StepFailedException();
        }
        output.WriteLine($"{transition}: restarted {string.Join(", ", restarted.Select(s => s.Name))}, status {info}");
    }

    /// <summary>What the site's copies of the two volumes hold now, read live (its highest
    /// transactions are what counts here; a read beside an apply may look gappy).</summary>
    private async Task<ConsistencyReport> HeldAsync(ReplicationSite site)
    {
        await using var primary = await NbdBlockDevice.OpenAsync(site.NbdSocket, _group!.PrimaryId);
        await using var mirror = await NbdBlockDevice.OpenAsync(site.NbdSocket, _group.MirrorId);
        return await ConsistencyChecker.CheckAsync(primary, mirror, ReplicatedGroup.Layout);
    }

    /// <summary>The engine's recovery lines of the site's last start (journals replayed, tails cut).</summary>
    private static string Recovery(ReplicationSite site) =>
        string.Join("\n", site.OutputText.Split("--- restarted ---")[^1].Split('\n').Where(l => l.Contains("StorageEngine", StringComparison.Ordinal)));

    private static async Task<string> InfoAsync(ReplicationSite site, string groupId)
    {
        try
        {
            var info = await site.Addons.GroupReplicationInfoAsync(groupId);
            return info.Status == InfoStatus.Error ? "ERROR: " + info.StatusMessage : info.Status.ToString();
        }
        catch (RpcException e)
        {
            return e.Status.ToString();
        }
    }

    /// <summary>A few transactions at <paramref name="primary"/>; returns the newest.</summary>
    private static async Task<long> WriteAsync(ReplicationSite primary, ReplicatedGroup group, long newest)
    {
        await TransactionWriter.WriteAsync(primary.NbdSocket, group.PrimaryId, group.MirrorId, newest + 1, Writes);
        return newest + Writes;
    }

    /// <summary>Writes at <paramref name="primary"/> and waits until <paramref name="secondary"/>
    /// (the primary itself, writable, when <paramref name="readOnly"/> is false) holds them, consistent.</summary>
    private static async Task<long> WriteAndFollowAsync(ReplicationSite primary, ReplicationSite secondary, ReplicatedGroup group, long newest, bool readOnly = true)
    {
        newest = await WriteAsync(primary, group, newest);
        var report = await WaitForTransactionAsync(secondary, group, newest, readOnly);
        Assert.True(report.IsConsistent, $"{secondary.Name} holds an inconsistent image: {report}");
        return newest;
    }

    private sealed class StepFailedException : Exception;
}
