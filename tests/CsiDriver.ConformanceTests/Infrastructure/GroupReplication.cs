using CsiAddons.Replication;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>
/// csi-addons replication.Controller calls as the csi-addons sidecar makes them for a
/// VolumeReplication of a volume group: the source is the group, the class parameters say where
/// the peer is, which mode and how much journal may be held back.
/// </summary>
public static class GroupReplication
{
    public const string GroupMode = "group";
    public const string PerVolumeMode = "per-volume";

    /// <summary>What a VolumeReplicationClass would say.</summary>
    public sealed record ReplicationClass(string PeerAddress, string Mode = GroupMode, string JournalBudget = "256Mi");

    public static ReplicationSource GroupSource(string volumeGroupId) =>
        new() { Volumegroup = new ReplicationSource.Types.VolumeGroupSource { VolumeGroupId = volumeGroupId } };

    public static Task<EnableVolumeReplicationResponse> EnableGroupReplicationAsync(this CsiAddonsClient addons, string volumeGroupId, ReplicationClass replicationClass) =>
        Call<EnableVolumeReplicationRequest, EnableVolumeReplicationResponse>(addons, "EnableVolumeReplication", new()
        {
            ReplicationSource = GroupSource(volumeGroupId),
            ReplicationId = volumeGroupId,
            Parameters =
            {
                ["peerAddress"] = replicationClass.PeerAddress,
                ["mode"] = replicationClass.Mode,
                ["journalBudget"] = replicationClass.JournalBudget,
            },
        });

    public static Task<PromoteVolumeResponse> PromoteGroupAsync(this CsiAddonsClient addons, string volumeGroupId, bool force) =>
        Call<PromoteVolumeRequest, PromoteVolumeResponse>(addons, "PromoteVolume",
            new() { ReplicationSource = GroupSource(volumeGroupId), ReplicationId = volumeGroupId, Force = force });

    public static Task<DemoteVolumeResponse> DemoteGroupAsync(this CsiAddonsClient addons, string volumeGroupId) =>
        Call<DemoteVolumeRequest, DemoteVolumeResponse>(addons, "DemoteVolume",
            new() { ReplicationSource = GroupSource(volumeGroupId), ReplicationId = volumeGroupId });

    /// <summary>Resync at a demoted old primary: ready=false until it follows the new primary again.</summary>
    public static Task<ResyncVolumeResponse> ResyncGroupAsync(this CsiAddonsClient addons, string volumeGroupId) =>
        Call<ResyncVolumeRequest, ResyncVolumeResponse>(addons, "ResyncVolume",
            new() { ReplicationSource = GroupSource(volumeGroupId), ReplicationId = volumeGroupId });

    public static Task<GetVolumeReplicationInfoResponse> GroupReplicationInfoAsync(this CsiAddonsClient addons, string volumeGroupId) =>
        Call<GetVolumeReplicationInfoRequest, GetVolumeReplicationInfoResponse>(addons, "GetVolumeReplicationInfo",
            new() { ReplicationSource = GroupSource(volumeGroupId), ReplicationId = volumeGroupId });

    /// <summary>RPO as measured: now − the main-site time of the newest applied record; null
    /// before anything was applied.</summary>
    public static TimeSpan? Lag(this GetVolumeReplicationInfoResponse info) =>
        info.LastSyncTime is null ? null : DateTimeOffset.UtcNow - info.LastSyncTime.ToDateTimeOffset();

    /// <summary>Polls GetVolumeReplicationInfo (bounded) until <paramref name="done"/> holds;
    /// returns that answer or fails the test with the last one seen.</summary>
    public static async Task<GetVolumeReplicationInfoResponse> WaitForReplicationAsync(this CsiAddonsClient addons, string volumeGroupId,
        Func<GetVolumeReplicationInfoResponse, bool> done, string what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        GetVolumeReplicationInfoResponse? last = null;
        Exception? lastError = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await addons.GroupReplicationInfoAsync(volumeGroupId);
                if (done(last))
                {
                    return last;
                }
            }
            catch (CsiDriver.Rpc.RpcException e)
            {
                lastError = e;
            }
            await Task.Delay(50);
        }
        Assert.Fail($"replication of {volumeGroupId} not {what} within {timeout.TotalSeconds} s; last answer: {last?.ToString() ?? lastError?.Message ?? "none"}");
        return null!;
    }

    private static Task<TResponse> Call<TRequest, TResponse>(CsiAddonsClient addons, string method, TRequest request)
        where TRequest : Google.Protobuf.IMessage<TRequest>
        where TResponse : Google.Protobuf.IMessage<TResponse>, new() =>
        addons.Call<TRequest, TResponse>(ReplicationReflection.Descriptor, "Controller", method, request);
}
