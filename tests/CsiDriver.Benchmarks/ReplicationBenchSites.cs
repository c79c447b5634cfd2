using System.Diagnostics;
using CsiAddons.VolumeGroup;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Engine.Nbd;
using CsiDriver.TestSupport;

namespace CsiDriver.Benchmarks;

/// <summary>One volume alone in its volume group at the main site, and fio's target for it.</summary>
public sealed record BenchVolume(string GroupId, string VolumeId, FioTarget Fio);

/// <summary>
/// The replication benchmarks' setting: a main and a backup site, two real csidriver processes
/// linked over mutual TLS, and volumes at the main site written by fio through the main's NBD
/// socket. How the two share this machine is the benchmark's choice:
/// <list type="bullet">
/// <item>CPUs: each site pinned to its own CPU set (<see cref="SiteCpus"/>; fio and this process
/// with the main), or all sharing every CPU;</item>
/// <item>network: loopback, or a real network at a rate (<see cref="SiteNetwork"/>), the backup in
/// a namespace of its own. Either way the main ships through the fault proxy, which a benchmark
/// can cut, and which holds the network's round-trip delay (half each way) — unless the benchmark
/// needs neither and ships direct: the proxy copies every byte in this process, on the main's
/// CPUs, a cost no real network puts on the main site.</item>
/// </list>
/// </summary>
public sealed class ReplicationBenchSites : IAsyncDisposable
{
    public const long VolumeBytes = 256L << 20;
    private static readonly TimeSpan SyncTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromMinutes(5);

    private readonly SiteCpus? _cpus;
    private readonly bool _direct;

    private ReplicationBenchSites(TwoSites sites, SiteCpus? cpus, bool direct)
    {
        Sites = sites;
        _cpus = cpus;
        _direct = direct;
    }

    public TwoSites Sites { get; }


    /// <param name="cpus">Each site on its own CPU set; null: all on every CPU.</param>
    /// <param name="network">A real network between the sites (the caller disposes it after the
    /// sites); null: loopback.</param>
    /// <param name="direct">The main ships straight to the backup's site link, not through the
    /// fault proxy: for a benchmark that neither cuts the link nor delays it.</param>
    public static async Task<ReplicationBenchSites> StartAsync(TextWriter progress, SiteCpus? cpus, SiteNetwork? network = null, bool direct = false)
    {
        if (direct && network is { RoundTrip.Ticks: > 0 })
        {
            throw new ArgumentException("the network's round trip is held by the proxy: a delayed link cannot ship direct", nameof(direct));
        }
        // Over a real network the sites reach each other at addresses their test certificates do
        // not carry: they check the name the certificates do carry instead.
        IReadOnlyList<string> names = network is null ? [] : ["--site-link-server-name", "localhost"];
        var main = new SitePlacement(network?.MainAddress ?? SitePlacement.Loopback.Host,
            cpus is null ? [] : SiteCpus.Pin(cpus.Main), names);
        var backup = new SitePlacement(network?.BackupAddress ?? SitePlacement.Loopback.Host,
            [.. network?.BackupLauncher ?? [], .. cpus is null ? [] : SiteCpus.Pin(cpus.Backup)], names);
        if (cpus is not null)
        {
            SiteCpus.PinThisProcess(cpus.Main);
        }
        try
        {
            var sites = await TwoSites.StartAsync(main, backup);
            sites.Link.Delay = (network?.RoundTrip ?? TimeSpan.Zero) / 2;
            progress.WriteLine($"   main site link {sites.Main.SiteLinkAddress}, backup site link {sites.Backup.SiteLinkAddress}; " +
                (cpus is null ? "both sites and fio sharing every CPU" : $"{cpus}, fio and this process with the main") + "; " +
                (network?.ToString() ?? "loopback") + (direct ? ", shipping direct" : $", shipping through the fault proxy {sites.Link.Address}"));
            return new ReplicationBenchSites(sites, cpus, direct);
        }
        catch
        {
            SiteCpus.UnpinThisProcess();
            throw;
        }
    }

    /// <summary>A volume in a group of its own, written full once (1 MiB sequential writes) so the
    /// measured random writes overwrite allocated data, as on a volume in service.</summary>
    public async Task<BenchVolume> CreateVolumeAsync(string purpose, CancellationToken cancellationToken)
    {
        var group = (await Sites.Main.Addons.CreateVolumeGroup(new CreateVolumeGroupRequest { Name = Volumes.UniqueName(purpose) })).VolumeGroup;
        var request = Volumes.Request(Volumes.UniqueName(purpose), Volumes.Block(), VolumeBytes);
        request.Parameters["consistencyGroup"] = group.VolumeGroupId;
        var volumeId = (await Sites.Main.Csi.CreateVolume(request)).Volume.VolumeId;
        var fio = FioTarget.Nbd($"nbd+unix:///{volumeId}?socket={Sites.Main.NbdSocket}") with { Launcher = _cpus is null ? [] : SiteCpus.Pin(_cpus.Main) };
        var volume = new BenchVolume(group.VolumeGroupId, volumeId, fio);
        await FioJob.RunAsync(volume.Fio, "write", "1m", 4, VolumeBytes, runtime: null, [], cancellationToken);
        return volume;
    }

    /// <summary>Enables replication of the volume's group to the backup and waits for the initial
    /// copy to finish.</summary>
    public async Task ReplicateAsync(BenchVolume volume, string journalBudget)
    {
        await Sites.Main.Addons.EnableGroupReplicationAsync(volume.GroupId, new GroupReplication.ReplicationClass(_direct ? Sites.Backup.SiteLinkAddress : Sites.Link.Address, GroupReplication.GroupMode, journalBudget));
        await Sites.Main.Addons.WaitForReplicationAsync(volume.GroupId,
            info => info.LastSyncTime is not null && info.Status == CsiAddons.Replication.GetVolumeReplicationInfoResponse.Types.Status.Healthy,
            "replicating", SyncTimeout);
    }

    /// <summary>Writes one marker block after everything written so far and waits until the
    /// backup has applied through it: its last sync time (the main-site time of its newest applied
    /// record) passing a time taken before the marker's write means every earlier write is
    /// applied. Returns how long the wait took.</summary>
    public async Task<TimeSpan> DrainAsync(BenchVolume volume)
    {
        var clock = Stopwatch.StartNew();
        DateTimeOffset marker;
        await using (var device = await NbdBlockDevice.OpenAsync(Sites.Main.NbdSocket, volume.VolumeId))
        {
            // Whole milliseconds, as the journal stamps records: a marker written within the
            // millisecond the time was taken carries that millisecond, not a later time.
            marker = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            await device.WriteAsync(0, new byte[4096], fua: true);
        }
        await Sites.Backup.Addons.WaitForReplicationAsync(volume.GroupId,
            info => info.LastSyncTime is not null && info.LastSyncTime.ToDateTimeOffset() >= marker, "drained", DrainTimeout);
        return clock.Elapsed;
    }

    /// <summary>CPU seconds used so far by the main and the backup site's processes.</summary>
    public (double Main, double Backup) CpuSeconds() =>
        (ProcessCpuTime.Seconds(Sites.Main.Process.Pid), ProcessCpuTime.Seconds(Sites.Backup.Process.Pid));

    public async ValueTask DisposeAsync()
    {
        await Sites.DisposeAsync();
        if (_cpus is not null)
        {
            SiteCpus.UnpinThisProcess();
        }
    }
}
