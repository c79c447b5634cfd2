using CsiDriver.Demo.Shop;

namespace CsiDriver.Demo;

public sealed partial class DemoRun
{
    /// <summary>One run of the story on a fresh pair of sites. Group mode writes for the whole
    /// --duration and ends in the disaster; per-volume mode writes for half of it and ends after
    /// its backup snapshots.</summary>
    private async Task RunModeAsync(string run, Sampler sampler, CancellationToken cancellationToken)
    {
        var writing = run == GroupRun ? options.Duration : options.Duration / 2;
        ShopDeployment? shop = null;
        try
        {
            timeline.Enter(run, "set-up");
            shop = await StartSitesAsync(run, cancellationToken);
            await SetUpShopAsync(run, shop, cancellationToken);

            timeline.Enter(run, "business processing");
            shop.Running = shop.Business.RunAsync(options.Rate, shop.StopBusiness.Token);
            sampler.Watch(shop.Watched);
            var meter = Throughput.Start(shop.Business);
            await WriteForAsync(shop, writing / 3, cancellationToken);
            var before = meter.Stop();
            await StepAsync(run, "business processing", () => Task.FromResult((0, before.Orders > 0 ? Outcome.Pass : Outcome.Fail,
                $"{shop.Business.Kind}: {before}")));
            results.Figure($"{run}: orders/s before replication", before.RateText);

            if (await ReplicationMissingAsync(shop) is { } missing)
            {
                _replicationMissing = missing;
                results.Record(run, "backup configuration", Outcome.Skipped, missing);
                return;
            }
            timeline.Enter(run, "backup configuration");
            await EnableReplicationAsync(run, shop, cancellationToken);
            timeline.Enter(run, "replicating");
            meter = Throughput.Start(shop.Business);
            await WriteForAsync(shop, writing * 2 / 3, cancellationToken);
            RecordNoImpact(run, before, meter.Stop());

            timeline.Enter(run, "snapshot at backup");
            await CheckBackupSnapshotsAsync(run, shop, cancellationToken);

            if (run == GroupRun)
            {
                timeline.Enter(run, "disaster");
                await DisasterAsync(run, shop, cancellationToken);
            }
        }
        catch (StoryStopped)
        {
            timeline.Note($"[{run}] the run stops here: a step it depends on failed");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Outside a step (the business process stopping by itself, a call between steps):
            // the phase it happened in fails, and the demo goes on to report.
            var phase = timeline.Position.Phase;
            var reason = e is DemoException or Rpc.RpcException ? e.Message : e.ToString();
            results.Record(run, phase, Outcome.Fail, reason);
            timeline.Note($"[{run}] {phase}: FAIL {reason}");
        }
        finally
        {
            sampler.Watch(null);
            if (shop is not null)
            {
                await StopBusinessAsync(run, shop);
                if (!options.Keep)
                {
                    // The next run gets the machine's two cores to itself.
                    await shop.Main.StopAsync();
                    await shop.Backup.StopAsync();
                }
            }
        }
    }

    /// <summary>Why this build cannot replicate (null: it can): the serve flags of the site link,
    /// and the VolumeReplication service advertised by the csi-addons identity.</summary>
    private async Task<string?> ReplicationMissingAsync(ShopDeployment shop)
    {
        if (!_driver.HasSiteLink)
        {
            return "this build has no site link (csidriver serve --site-link-address)";
        }
        return await shop.Main.Client.AdvertisesReplicationAsync()
            ? null
            : "this build's csi-addons identity does not advertise VolumeReplication";
    }

    /// <summary>Lets the business run for a while, failing the run if it stops by itself.</summary>
    private async Task WriteForAsync(ShopDeployment shop, TimeSpan time, CancellationToken cancellationToken)
    {
        var finished = await Task.WhenAny(shop.Running, Task.Delay(time, cancellationToken));
        cancellationToken.ThrowIfCancellationRequested();
        if (finished == shop.Running)
        {
            var failure = await shop.Running;
            throw new DemoException($"the business process stopped by itself: {failure?.Message ?? "no error"}");
        }
    }

    private void RecordNoImpact(string run, Throughput before, Throughput after)
    {
        var lags = timeline.Of(run, "replicating").Where(s => s.LagSeconds is not null).Select(s => s.LagSeconds!.Value).Order().ToList();
        results.Figure($"{run}: orders/s with replication", after.RateText);
        if (before.MeanLatencyMs is { } b && after.MeanLatencyMs is { } a)
        {
            results.Figure($"{run}: order latency before → with replication", $"{b:F1} ms → {a:F1} ms");
        }
        if (lags.Count > 0)
        {
            results.Figure($"{run}: lag p50 / max", $"{Percentile(lags, 0.5):F3} s / {lags[^1]:F3} s");
        }
        // Writers never wait for the backup: a paced load keeps its rate (10 % allows for noise).
        // A rate that falls is a warning, not a failure: on a shared machine the sites, the
        // proxy and other work compete for the same cores, which the load average shows.
        if (after.Orders == 0)
        {
            // Not a slowdown: the writers stopped. No load on a machine explains that.
            var stalled = $"the business process stalled once replication was enabled: {before.RateText} orders/s before, none while replicating";
            results.Record(run, "no impact on business processing", Outcome.Fail, stalled);
            timeline.Note($"[{run}] no impact on business processing: FAIL {stalled}");
            return;
        }
        var kept = after.Rate >= before.Rate * 0.9;
        var detail = $"orders/s {before.RateText} before, {after.RateText} while replicating, " +
            (_cpus is null ? "both sites sharing the only CPU" : $"sites pinned: {_cpus}") +
            (before.MeanLatencyMs is { } was && after.MeanLatencyMs is { } now ? $"; latency {was:F1} → {now:F1} ms" : "") +
            (lags.Count > 0 ? $"; lag p50 {Percentile(lags, 0.5):F3} s" : "; no lag reported") +
            (kept ? "" : $"; machine load average {LoadAverage()} on {Environment.ProcessorCount} cores");
        results.Record(run, "no impact on business processing", kept ? Outcome.Pass : Outcome.Warn, detail);
        timeline.Note($"[{run}] no impact on business processing: {(kept ? "PASS" : "WARN")} {detail}");
    }

    /// <summary>The one-minute load average (/proc/loadavg), to put a timing in context.</summary>
    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static double Percentile(IReadOnlyList<double> sorted, double p) => sorted[(int)Math.Min(sorted.Count - 1, Math.Floor(p * sorted.Count))];

    private async Task StopBusinessAsync(string run, ShopDeployment shop)
    {
        if (!shop.IsSetUp)
        {
            return;
        }
        await shop.StopBusiness.CancelAsync();
        var finished = await Task.WhenAny(shop.Running, Task.Delay(TimeSpan.FromSeconds(30)));
        if (finished != shop.Running)
        {
            timeline.Note($"[{run}] the business process did not stop within 30 s");
            return;
        }
        await shop.Business.DisposeAsync();
        if (options.Keep && !shop.Main.HasExited && shop.Volumes.Mounted)
        {
            _kept.Add($"# {run} run: the shop's databases stay mounted at {shop.Main.Layout.Name}, e.g.");
            _kept.Add($"sqlite3 {shop.Volumes.SalesMount}/{SqliteShop.SalesFile} 'SELECT item, SUM(quantity) FROM orders GROUP BY item'");
            _kept.Add($"sqlite3 {shop.Volumes.StockMount}/{SqliteShop.StockFile} 'SELECT * FROM stock'");
        }
        if (options.Keep && shop.Proxy is not null)
        {
            _kept.Add($"# {run} run: the link proxy ({shop.Proxy.Address}) ends with the demo: from then on the kept sites have no link and their replication reports it");
        }
        if (!shop.Main.HasExited && shop.Volumes.Mounted && !options.Keep)
        {
            foreach (var volumeId in shop.Volumes.VolumeIds)
            {
                await TryAsync(run, $"unmount {volumeId}", () => shop.Main.Client.UnmountAsync(volumeId, ShopVolumes.Pod));
            }
        }
        if (shop.Main.HasExited && shop.Volumes.Mounted)
        {
            await TryAsync(run, "release the lost main site's mounts", () => ReleaseLostMountsAsync(shop));
        }
        if (shop.Proxy is not null && !options.Keep)
        {
            await shop.Proxy.DisposeAsync();
        }
    }

    /// <summary>The killed main site left its mounts on a dead attachment: started again, it
    /// unpublishes and unstages them as kubelet would ask after a node reboot.</summary>
    private async Task ReleaseLostMountsAsync(ShopDeployment shop)
    {
        await using var restarted = await SiteProcess.StartAsync(shop.Main.Layout, shop.Main.Settings, CancellationToken.None);
        foreach (var volumeId in shop.Volumes.VolumeIds)
        {
            await restarted.Client.UnmountAsync(volumeId, ShopVolumes.Pod);
        }
        await restarted.StopAsync();
    }

    /// <summary>Best-effort clean-up: a failure is noted, never a verdict.</summary>
    private async Task TryAsync(string run, string what, Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (Exception e) when (e is Rpc.RpcException or IOException or HttpRequestException or DemoException)
        {
            timeline.Note($"[{run}] {what}: {e.Message}");
        }
    }
}
