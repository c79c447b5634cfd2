using CsiAddons.VolumeGroup;
using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.Benchmarks;

/// <summary>One volume alone in its volume group at the main site, and the fio URI of its export.</summary>
public sealed record BenchVolume(string GroupId, string VolumeId, string Uri);

/// <summary>
/// The replication benchmarks' setting: a main and a backup site, two real csidriver processes
/// on loopback linked over mutual TLS through the fault proxy (no faults unless a benchmark
/// injects them), and volumes at the main site written by fio through the main's NBD socket.
/// </summary>
public sealed class ReplicationBenchSites : IAsyncDisposable
{
    public const long VolumeBytes = 256L << 20;
    private static readonly TimeSpan SyncTimeout = TimeSpan.FromMinutes(2);

    private ReplicationBenchSites(TwoSites sites) => Sites = sites;

    public TwoSites Sites { get; }

    public static async Task<ReplicationBenchSites> StartAsync(TextWriter progress)
    {
        var sites = await TwoSites.StartAsync();
        progress.WriteLine($"   main site link {sites.Main.SiteLinkAddress}, backup site link {sites.Backup.SiteLinkAddress} (reached through {sites.Link.Address})");
        return new ReplicationBenchSites(sites);
    }

    /// <summary>A volume in a group of its own, written full once (1 MiB sequential writes) so the
    /// measured random writes overwrite allocated data, as on a volume in service.</summary>
    public async Task<BenchVolume> CreateVolumeAsync(string purpose, CancellationToken cancellationToken)
    {
        var group = (await Sites.Main.Addons.CreateVolumeGroup(new CreateVolumeGroupRequest { Name = Volumes.UniqueName(purpose) })).VolumeGroup;
        var request = Volumes.Request(Volumes.UniqueName(purpose), Volumes.Block(), VolumeBytes);
        request.Parameters["consistencyGroup"] = group.VolumeGroupId;
        var volumeId = (await Sites.Main.Csi.CreateVolume(request)).Volume.VolumeId;
        var volume = new BenchVolume(group.VolumeGroupId, volumeId, $"nbd+unix:///{volumeId}?socket={Sites.Main.NbdSocket}");
        await FioJob.RunAsync(volume.Uri, "write", "1m", 4, VolumeBytes, runtime: null, [], cancellationToken);
        return volume;
    }

    /// <summary>Enables replication of the volume's group to the backup and waits for the initial
    /// copy to finish.</summary>
    public async Task ReplicateAsync(BenchVolume volume, string journalBudget)
    {
        await Sites.Main.Addons.EnableGroupReplicationAsync(volume.GroupId, new GroupReplication.ReplicationClass(Sites.Link.Address, GroupReplication.GroupMode, journalBudget));
        await Sites.Main.Addons.WaitForReplicationAsync(volume.GroupId,
            info => info.LastSyncTime is not null && info.Status == CsiAddons.Replication.GetVolumeReplicationInfoResponse.Types.Status.Healthy,
            "replicating", SyncTimeout);
    }

    public ValueTask DisposeAsync() => Sites.DisposeAsync();
}
