using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.TestSupport.Consistency;
using CsiDriver.Engine.Nbd;
using CsiDriver.TestSupport;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>The checks two-site tests make between replication transitions: a resync seen
/// through to ready, writes refused by a secondary, a site caught up with a transaction, the same
/// bytes at both sites.</summary>
public static class ReplicationSteps
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>ResyncVolume at a demoted site, repeated (as the csi-addons sidecar does) until ready.</summary>
    public static async Task WaitForResyncAsync(ReplicationSite site, string groupId)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!(await site.Addons.ResyncGroupAsync(groupId)).Ready)
        {
            Assert.True(DateTime.UtcNow < deadline, $"resync at {site.Name} not ready within {Timeout.TotalSeconds} s: {await site.Addons.GroupReplicationInfoAsync(groupId)}");
            await Task.Delay(100);
        }
    }

    public static async Task AssertWritesRefusedAsync(string nbdSocket, string volumeId)
    {
        await using var device = await NbdBlockDevice.OpenAsync(nbdSocket, volumeId);
        Assert.True(device.IsReadOnly, $"{volumeId} is still exported writable after DemoteVolume");
        await Assert.ThrowsAsync<IOException>(async () => await device.WriteAsync(0, new byte[4096], fua: false));
    }

    /// <summary>Waits (bounded) until <paramref name="site"/>'s copy of the group holds transaction
    /// <paramref name="transaction"/> on both volumes, consistent; returns what it read.</summary>
    public static async Task<ConsistencyReport> WaitForTransactionAsync(ReplicationSite site, ReplicatedGroup group, long transaction,
        bool readOnly = true, TimeSpan? timeout = null, Func<string>? explain = null)
    {
        timeout ??= Timeout;
        var deadline = DateTime.UtcNow + timeout.Value;
        ConsistencyReport? last = null;
        while (DateTime.UtcNow < deadline)
        {
            await using var replicas = await ReplicaPair.OpenAsync(site.NbdSocket, group.PrimaryId, group.MirrorId, readOnly);
            last = await replicas.CheckAsync();
            if (last.MirrorHighest >= transaction)
            {
                return last;
            }
            await Task.Delay(50);
        }
        Assert.Fail($"{site.Name} did not reach transaction {transaction} within {timeout.Value.TotalSeconds} s; last read: {last}\n{explain?.Invoke()}");
        return last!;
    }

    /// <summary>Both volumes read the same, byte for byte, at the two sites.</summary>
    public static async Task AssertSameDataAsync(TwoSites sites, ReplicatedGroup group)
    {
        foreach (var volumeId in new[] { group.PrimaryId, group.MirrorId })
        {
            var atMain = await ReadAllAsync(sites.Main.NbdSocket, volumeId);
            var atBackup = await ReadAllAsync(sites.Backup.NbdSocket, volumeId);
            Assert.True(atMain.AsSpan().SequenceEqual(atBackup), $"{volumeId} differs between the sites");
        }
    }

    private static async Task<byte[]> ReadAllAsync(string nbdSocket, string volumeId)
    {
        await using var device = await NbdBlockDevice.OpenAsync(nbdSocket, volumeId);
        var data = new byte[device.Size];
        await device.ReadAsync(0, data);
        return data;
    }
}
