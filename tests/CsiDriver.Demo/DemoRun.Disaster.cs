namespace CsiDriver.Demo;

public sealed partial class DemoRun
{
    private static readonly TimeSpan WriterStopTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RecentWindow = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The main site is lost, its network with it (the link cut, what was in flight dropped;
    /// SIGKILL to the driver and its attach helpers, mid-order); the backup is force-promoted at
    /// its last applied cut; the promoted volumes are mounted at the backup and checked; the
    /// orders lost are counted against what the lag announced.
    /// </summary>
    private async Task DisasterAsync(string run, ShopDeployment shop, CancellationToken cancellationToken)
    {
        // What the operator saw just before: the largest lag of the last few seconds (the link's
        // delay swings, so one reading alone may catch it low) and the rate of those seconds.
        var recent = timeline.Samples.Where(s => s.Run == run && s.LagSeconds is not null && s.Seconds >= timeline.Now - RecentWindow.TotalSeconds).ToList();
        double? lagShown = recent.Count > 0 ? recent.Max(s => s.LagSeconds!.Value) : null;
        var rate = recent.Count > 0 ? recent.Average(s => s.OrdersPerSecond) : options.Rate;
        var committed = await StepAsync(run, "disaster: main site killed", async () =>
        {
            if (shop.Proxy is not null)
            {
                await shop.Proxy.SeverAsync();
            }
            await shop.Main.CrashAsync();
            // With its site gone the writer cannot commit again, whether its last write failed or
            // hangs on the dead device; a hang is reported, not waited out.
            var finished = await Task.WhenAny(shop.Running, Task.Delay(WriterStopTimeout, cancellationToken));
            var saw = finished == shop.Running
                ? (await shop.Running)?.Message.Split('\n')[0] ?? "nothing"
                : $"no answer within {WriterStopTimeout.TotalSeconds} s (blocked on the dead site's device)";
            var committed = shop.Business.Committed;
            return (committed, Outcome.Pass, $"link cut and SIGKILL during order {committed + 1}; {committed} orders committed at the main site; the writer saw: {saw}");
        });

        await StepAsync(run, "forced promotion at the backup", async () =>
        {
            await shop.Backup.Client.PromoteAsync(ReplicationRequests.ForcePromote(shop.Volumes.GroupId));
            return (0, Outcome.Pass, $"PromoteVolume(force) for {shop.Volumes.GroupId}: the backup's volumes are primary and writable");
        });

        await StepAsync(run, "promoted volumes checked", async () =>
        {
            await PublishAtAsync(shop.Backup, shop.Volumes);
            var check = await CheckPairAsync(shop.Backup, shop.Volumes, shop.Volumes.SalesId, shop.Volumes.StockId, "recovered");
            // The order in flight when the site died may have reached the backup whole although
            // its writer never heard back: one order beyond the committed count is possible.
            var lost = Math.Max(0, committed - check.CompleteOrders);
            var impossible = check.CompleteOrders > committed + 1;
            var expected = lagShown is { } lag ? lag * rate : (double?)null;
            results.Figure($"{run}: orders committed at the main", committed.ToString(System.Globalization.CultureInfo.InvariantCulture));
            results.Figure($"{run}: orders lost at failover", lost.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (lagShown is { } shown)
            {
                results.Figure($"{run}: lag shown before the disaster", $"{shown:F3} s, the most in the last {RecentWindow.TotalSeconds:F0} s (≈ {expected:F0} orders at {rate:F0}/s)");
            }
            var summary = $"{check}; {lost} orders lost" + (expected is { } e ? $" against ≈{e:F0} announced by the lag of {lagShown:F3} s" : "") +
                (check.CompleteOrders == committed + 1 ? $"; order {committed + 1}, in flight at the crash, reached the backup whole" : "");
            var outcome = check.IsConsistent && !impossible ? Outcome.Pass : Outcome.Fail;
            return (0, outcome, impossible ? summary + "; the backup holds orders never begun" : summary);
        });
    }

    /// <summary>ControllerPublishVolume of a pair at a site (the attacher's step before the node's).</summary>
    private static async Task PublishAtAsync(SiteProcess site, ShopVolumes volumes)
    {
        foreach (var volumeId in volumes.VolumeIds)
        {
            await site.Client.ControllerPublishAsync(volumeId, site.Settings.SiteId, volumes.Capability);
        }
    }
}
