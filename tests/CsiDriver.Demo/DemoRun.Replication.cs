using System.Diagnostics;

namespace CsiDriver.Demo;

public sealed partial class DemoRun
{
    private static readonly TimeSpan InitialSyncTimeout = TimeSpan.FromSeconds(60);

    /// <summary>EnableVolumeReplication for the shop's volume group at the main site while the
    /// business runs, then waits (bounded) for the initial synchronisation: the backup reports a
    /// last sync time once it holds a consistent image and streams the journal.</summary>
    private Task EnableReplicationAsync(string run, ShopDeployment shop, CancellationToken cancellationToken) =>
        StepAsync(run, "backup configuration", async () =>
        {
            var mode = run == GroupRun ? ReplicationRequests.GroupMode : ReplicationRequests.PerVolumeMode;
            var clock = Stopwatch.StartNew();
            await shop.Main.Client.EnableReplicationAsync(ReplicationRequests.Enable(shop.Volumes.GroupId, shop.PeerAddress!, mode, shop.Main.Settings.SiteLink!));
            timeline.Note($"[{run}] EnableVolumeReplication({shop.Volumes.GroupId}, mode={mode}, peer={shop.PeerAddress}) accepted");
            shop.Watched.Replicating = true;
            var lastWord = "no answer yet";
            while (clock.Elapsed < InitialSyncTimeout)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    var info = await shop.Main.Client.GetReplicationInfoAsync(ReplicationRequests.Info(shop.Volumes.GroupId));
                    if (info.LastSyncTime is not null)
                    {
                        var detail = $"mode {mode}, initial sync done in {clock.Elapsed.TotalSeconds:F1} s" +
                            (info.LastSyncBytes > 0 ? $" (last sync {LiveView.Bytes(info.LastSyncBytes)})" : "");
                        results.Figure($"{run}: initial sync", $"{clock.Elapsed.TotalSeconds:F1} s");
                        return (0, Outcome.Pass, detail);
                    }
                    lastWord = "no last_sync_time yet";
                }
                catch (Rpc.RpcException e)
                {
                    lastWord = e.Message;
                }
                await Task.Delay(250, cancellationToken);
            }
            throw new DemoException($"initial sync not done within {InitialSyncTimeout.TotalSeconds} s ({lastWord})");
        });
}
