using System.Net;
using Csi.V1;
using CsiDriver.Demo.Shop;

namespace CsiDriver.Demo;

public sealed partial class DemoRun
{
    /// <summary>Starts the run's main and backup sites (site link with mutual TLS and metrics
    /// when this build has them) and, between them, the link proxy adding delay and jitter.</summary>
    private Task<ShopDeployment> StartSitesAsync(string run, CancellationToken cancellationToken) =>
        StepAsync(run, "sites started", async () =>
        {
            var prefix = run == GroupRun ? "" : "pv-";
            var main = await StartSiteAsync(prefix + "main", cancellationToken);
            var backup = await StartSiteAsync(prefix + "backup", cancellationToken);
            LinkProxy? proxy = null;
            var peer = backup.Settings.SiteLink?.ListenAddress;
            if (peer is not null && (options.LinkDelay > TimeSpan.Zero || options.Jitter > TimeSpan.Zero))
            {
                proxy = new LinkProxy(IPEndPoint.Parse(peer), options.LinkDelay, options.Jitter);
                peer = proxy.Address;
            }
            var deployment = new ShopDeployment
            {
                Main = main,
                Backup = backup,
                PeerAddress = peer,
                Proxy = proxy,
                MainMetrics = main.Settings.MetricsAddress is { } metrics ? new MetricsReader(metrics) : null,
            };
            var link = peer is null
                ? "no site link in this build"
                : $"site link {backup.Settings.SiteLink!.ListenAddress} (mutual TLS)" + (proxy is null ? "" : $" reached through a delay proxy at {peer} ({options.LinkDelay.TotalMilliseconds} ms, swinging by {options.Jitter.TotalMilliseconds} ms)");
            return (deployment, Outcome.Pass, $"{main.Layout.Name} (pid {main.ProcessId}) and {backup.Layout.Name} (pid {backup.ProcessId}); {link}");
        });

    private async Task<SiteProcess> StartSiteAsync(string name, CancellationToken cancellationToken)
    {
        var layout = SiteLayout.Create(options.OutputDirectory, name);
        SiteLinkSettings? link = null;
        string? metrics = null;
        if (_certificates is not null)
        {
            var (certificate, key, authority) = _certificates[name];
            link = new SiteLinkSettings(SiteSettings.Loopback(SiteSettings.FreeLoopbackPort()), certificate, key, authority);
        }
        if (_driver.HasMetrics)
        {
            metrics = SiteSettings.Loopback(SiteSettings.FreeLoopbackPort());
        }
        var cpus = _cpus is null ? null : name.EndsWith("backup", StringComparison.Ordinal) ? _cpus.Backup : _cpus.Main;
        var site = await SiteProcess.StartAsync(layout, new SiteSettings(_driver.Path, name, link, metrics, cpus), cancellationToken);
        _sites.Add(site);
        return site;
    }

    /// <summary>The consistency group and its two volumes, created and attached through CSI at
    /// the main site, then the shop's databases (or block logs) on them.</summary>
    private Task SetUpShopAsync(string run, ShopDeployment shop, CancellationToken cancellationToken) =>
        StepAsync(run, "consistency group set up", async () =>
        {
            var client = shop.Main.Client;
            var mount = _noMount is null;
            var capability = ShopVolumes.CapabilityFor(mount);
            var group = (await client.CreateVolumeGroupAsync("shop")).VolumeGroup.VolumeGroupId;
            var ids = new List<string>();
            foreach (var name in new[] { "sales", "stock" })
            {
                var volume = (await client.CreateVolumeAsync(new CreateVolumeRequest
                {
                    Name = name,
                    CapacityRange = new CapacityRange { RequiredBytes = ShopVolumes.SizeBytes },
                    VolumeCapabilities = { capability },
                    Parameters = { ["consistencyGroup"] = group }, // the StorageClass parameter
                })).Volume;
                await client.ControllerPublishAsync(volume.VolumeId, shop.Main.Settings.SiteId, capability);
                ids.Add(volume.VolumeId);
            }
            string? salesMount = null;
            string? stockMount = null;
            IBusinessProcess business;
            if (mount)
            {
                salesMount = await client.MountAsync(ids[0], capability, ShopVolumes.Pod);
                stockMount = await client.MountAsync(ids[1], capability, ShopVolumes.Pod);
                business = SqliteShop.Open(salesMount, stockMount);
            }
            else
            {
                business = await BlockShop.OpenAsync(shop.Main.Layout.NbdSocket, ids[0], ids[1]);
            }
            shop.Open(new ShopVolumes(group, ids[0], ids[1], capability, salesMount, stockMount), business);
            return (0, Outcome.Pass, mount
                ? $"volume group {group}: sales {ids[0]} at {salesMount}, stock {ids[1]} at {stockMount} (FUSE + loop + ext4)"
                : $"volume group {group}: sales {ids[0]}, stock {ids[1]} as block volumes over NBD ({_noMount})");
        });
}
