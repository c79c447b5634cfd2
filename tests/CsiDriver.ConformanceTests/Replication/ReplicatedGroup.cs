using CsiAddons.VolumeGroup;
using CsiDriver.ConformanceTests.Atomicity;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.TestSupport.Consistency;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>
/// The service under protection: a csi-addons volume group at the main site holding two block
/// volumes (created with the CSI consistencyGroup parameter set to the group's id, so they share
/// one journal), written through the main site's NBD socket by the atomicity workload (primary
/// first, mirror after the acknowledgement: the mirror is never ahead). Replication of the group
/// to the backup is enabled on request. Disposal stops the workload; the volumes themselves go
/// with the sites' directories.
/// </summary>
public sealed class ReplicatedGroup : IAsyncDisposable
{
    private readonly TwoSites _sites;
    private readonly MirroredVolumes _volumes;

    private ReplicatedGroup(TwoSites sites, string groupId, MirroredVolumes volumes)
    {
        _sites = sites;
        GroupId = groupId;
        _volumes = volumes;
    }

    public string GroupId { get; }

    public string PrimaryId => _volumes.PrimaryId;

    public string MirrorId => _volumes.MirrorId;

    public TransactionWorkload Workload => _volumes.Workload;

    /// <inheritdoc cref="MirroredVolumes.Running"/>
    public Task<long> Writing => _volumes.Running;

    public static TransactionLayout Layout => MirroredVolumes.Layout;

    /// <summary>Creates the group and its volumes at the main site and starts writing; returns once
    /// the workload has gone round the ring once, so every slot holds a record.</summary>
    public static async Task<ReplicatedGroup> StartAsync(TwoSites sites)
    {
        var group = (await sites.Main.Addons.CreateVolumeGroup(new CreateVolumeGroupRequest { Name = Volumes.UniqueName("orders") })).VolumeGroup;
        var volumes = await MirroredVolumes.StartAsync(sites.Main.Csi, sites.Main.NbdSocket, group.VolumeGroupId);
        await volumes.WaitForAsync(Layout.Slots);
        return new ReplicatedGroup(sites, group.VolumeGroupId, volumes);
    }

    /// <summary>EnableVolumeReplication at the main site towards the backup, through the faulty link.</summary>
    public Task EnableAsync(string mode = GroupReplication.GroupMode, string journalBudget = "256Mi") =>
        _sites.Main.Addons.EnableGroupReplicationAsync(GroupId, new GroupReplication.ReplicationClass(_sites.Link.Address, mode, journalBudget));

    /// <summary>Waits (bounded) until the main site reports the initial copy done and the backup
    /// applying: a last sync time is known and the status is healthy.</summary>
    public Task<CsiAddons.Replication.GetVolumeReplicationInfoResponse> WaitUntilReplicatingAsync(TimeSpan? timeout = null) =>
        _sites.Main.Addons.WaitForReplicationAsync(GroupId, Replicating, "replicating", timeout ?? TimeSpan.FromSeconds(30));

    public static bool Replicating(CsiAddons.Replication.GetVolumeReplicationInfoResponse info) =>
        info.LastSyncTime is not null && info.Status == CsiAddons.Replication.GetVolumeReplicationInfoResponse.Types.Status.Healthy;

    /// <summary>Stops the workload; returns the newest transaction committed at the main site.</summary>
    public Task<long> StopWritingAsync() => _volumes.StopAsync();

    /// <summary>Waits (bounded) until the backup's replicas hold transaction <paramref name="transaction"/>
    /// on both volumes, reading them over the backup's NBD socket.</summary>
    public Task<ConsistencyReport> WaitForBackupAsync(long transaction, TimeSpan timeout) =>
        ReplicationSteps.WaitForTransactionAsync(_sites.Backup, this, transaction, timeout: timeout, explain: _sites.Output);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _volumes.DisposeAsync();
        }
        catch (Exception e) when (e is IOException or CsiDriver.Rpc.RpcException or ObjectDisposedException)
        {
            // A test that crashed or demoted the main site leaves writes refused and volumes
            // undeletable; the workload is stopped and its connections closed all the same, and
            // the volumes go with the site's directory.
        }
    }
}
