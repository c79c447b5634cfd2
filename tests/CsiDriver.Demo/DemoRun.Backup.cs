using Csi.V1;
using CsiDriver.Demo.Shop;

namespace CsiDriver.Demo;

public sealed partial class DemoRun
{
    /// <summary>
    /// Snapshot development at the backup while replication continues: at random moments, a
    /// group snapshot of the replicas, cloned into two writable volumes, mounted at the backup
    /// (the ext4 journal and SQLite's WAL recover on the clones, never on the read-only
    /// replicas), and the analytics queries checked against the shop's invariant. Group mode
    /// must find every snapshot consistent; per-volume mode is expected to collapse.
    /// </summary>
    private async Task CheckBackupSnapshotsAsync(string run, ShopDeployment shop, CancellationToken cancellationToken)
    {
        var random = new Random();
        var checks = new List<PairCheck>();
        await StepAsync(run, run == GroupRun ? "snapshot development at the backup" : "contrast: backup snapshots in per-volume mode", async () =>
        {
            for (var i = 1; i <= options.SnapshotChecks; i++)
            {
                await WriteForAsync(shop, TimeSpan.FromMilliseconds(random.Next(300, 2000)), cancellationToken);
                var check = await CheckBackupSnapshotAsync(shop, $"{run}-check-{i}");
                checks.Add(check);
                timeline.Note($"[{run}] backup snapshot {i}: {check}");
            }
            var inconsistent = checks.Count(c => !c.IsConsistent);
            results.Figure($"{run}: inconsistent backup snapshots", $"{inconsistent} of {checks.Count}");
            if (run == GroupRun)
            {
                results.Analytics = checks[^1].Items;
                return (0, inconsistent == 0 ? Outcome.Pass : Outcome.Fail, inconsistent == 0
                    ? $"{checks.Count} group snapshots at the backup, each consistent; the last: {checks[^1].CompleteOrders} orders" +
                        (checks[^1].Items.Count > 0 ? ", every item's sales + stock left = initial stock" : "")
                    : $"{inconsistent} of {checks.Count} group snapshots inconsistent: {checks.First(c => !c.IsConsistent)}");
            }
            return (0, inconsistent > 0 ? Outcome.Pass : Outcome.Fail, inconsistent > 0
                ? $"the checker found {inconsistent} of {checks.Count} backup snapshots collapsed, e.g. {checks.First(c => !c.IsConsistent)}"
                : $"no collapse seen in {checks.Count} snapshots: the volumes' lags did not differ by an order (raise --jitter or --rate)");
        });
    }

    /// <summary>One group snapshot at the backup, cloned, checked and removed again.</summary>
    private async Task<PairCheck> CheckBackupSnapshotAsync(ShopDeployment shop, string name)
    {
        var client = shop.Backup.Client;
        var volumes = shop.Volumes;
        var snapshot = (await client.CreateGroupSnapshotAsync(name, volumes.VolumeIds)).GroupSnapshot;
        var clones = new List<string>();
        try
        {
            foreach (var (volumeId, half) in new[] { (volumes.SalesId, "sales"), (volumes.StockId, "stock") })
            {
                var member = snapshot.Snapshots.Single(s => s.SourceVolumeId == volumeId);
                var clone = (await client.CreateVolumeAsync(new CreateVolumeRequest
                {
                    Name = $"{name}-{half}",
                    CapacityRange = new CapacityRange { RequiredBytes = ShopVolumes.SizeBytes },
                    VolumeCapabilities = { volumes.Capability },
                    VolumeContentSource = new VolumeContentSource { Snapshot = new VolumeContentSource.Types.SnapshotSource { SnapshotId = member.SnapshotId } },
                })).Volume.VolumeId;
                clones.Add(clone);
                await client.ControllerPublishAsync(clone, shop.Backup.Settings.SiteId, volumes.Capability);
            }
            return await CheckPairAsync(shop.Backup, volumes, clones[0], clones[1], ShopVolumes.AnalyticsPod);
        }
        finally
        {
            foreach (var clone in clones)
            {
                await TryAsync(name, $"delete clone {clone}", () => client.DeleteAttachedVolumeAsync(clone, shop.Backup.Settings.SiteId));
            }
            await TryAsync(name, $"delete group snapshot {snapshot.GroupSnapshotId}", () => client.DeleteGroupSnapshotAsync(snapshot));
        }
    }

    /// <summary>Reads a pair of volumes of a site together: mounted through the node path for the
    /// SQLite shop (and unmounted after), or over NBD for the block shop.</summary>
    private static async Task<PairCheck> CheckPairAsync(SiteProcess site, ShopVolumes volumes, string salesId, string stockId, string pod)
    {
        if (!volumes.Mounted)
        {
            return await BlockShop.CheckAsync(site.Layout.NbdSocket, salesId, stockId, CancellationToken.None);
        }
        var mounted = new List<string>();
        try
        {
            var sales = await site.Client.MountAsync(salesId, volumes.Capability, pod);
            mounted.Add(salesId);
            var stock = await site.Client.MountAsync(stockId, volumes.Capability, pod);
            mounted.Add(stockId);
            return SqliteAudit.Check(sales, stock);
        }
        finally
        {
            foreach (var volumeId in mounted)
            {
                await site.Client.UnmountAsync(volumeId, pod);
            }
        }
    }
}
