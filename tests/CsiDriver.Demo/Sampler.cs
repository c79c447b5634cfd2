using CsiAddons.Replication;
using CsiDriver.Demo.Shop;

namespace CsiDriver.Demo;

/// <summary>What the sampler watches: the running business process and, once replication is
/// on, how to ask the main site for its lag and journal.</summary>
public sealed class Watched(IBusinessProcess Business, SiteProcess Main, MetricsReader? Metrics, string GroupId, IReadOnlyList<string> VolumeIds)
{
    public volatile bool Replicating;

    public IBusinessProcess Business { get; } = Business;

    public SiteProcess Main { get; } = Main;

    public MetricsReader? Metrics { get; } = Metrics;

    public string GroupId { get; } = GroupId;

    /// <summary>Replication ids the metrics may carry: the group's, or per-volume mode's volumes'.</summary>
    public IReadOnlyList<string> LabelValues { get; } = [GroupId, .. VolumeIds];
}

/// <summary>
/// Once a second: orders per second and mean latency from the business process's counters,
/// lag as the operator sees it from GetVolumeReplicationInfo (now − last_sync_time; none before
/// the initial sync) and the journal held for the backup from the metrics endpoint; appended to
/// the timeline.
/// </summary>
public sealed class Sampler(DemoTimeline timeline) : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly CancellationTokenSource _stop = new();
    private Watched? _watched;
    private Task? _loop;

    public void Start() => _loop = LoopAsync();

    /// <summary>Watches another business process (null: nothing).</summary>
    public void Watch(Watched? watched) => _watched = watched;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }
        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        Watched? previousWatched = null;
        long previousCommitted = 0;
        (long Micros, long Count) previousLatency = (0, 0);
        var previousTime = timeline.Now;
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                var watched = _watched;
                if (watched is null)
                {
                    previousWatched = null;
                    continue;
                }
                var now = timeline.Now;
                var committed = watched.Business.Committed;
                var latency = watched.Business.Latency;
                if (!ReferenceEquals(watched, previousWatched))
                {
                    (previousWatched, previousCommitted, previousLatency, previousTime) = (watched, committed, latency, now);
                    continue;
                }
                var rate = (committed - previousCommitted) / Math.Max(0.001, now - previousTime);
                double? latencyMs = latency.Count > previousLatency.Count
                    ? (latency.Micros - previousLatency.Micros) / 1000.0 / (latency.Count - previousLatency.Count)
                    : null;
                var (lag, journal) = watched.Replicating ? await ReplicationFiguresAsync(watched) : (null, null);
                var (run, phase) = timeline.Position;
                var sample = new Sample(now, run, phase, committed, rate, latencyMs, lag, journal);
                timeline.Add(sample);
                (previousCommitted, previousLatency, previousTime) = (committed, latency, now);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task<(double? Lag, double? Journal)> ReplicationFiguresAsync(Watched watched)
    {
        double? lag = null;
        double? journal = null;
        if (watched.Main.HasExited)
        {
            return (null, null);
        }
        try
        {
            var info = await watched.Main.Client.GetReplicationInfoAsync(new GetVolumeReplicationInfoRequest
            {
                ReplicationSource = ReplicationRequests.GroupSource(watched.GroupId),
            });
            if (info.LastSyncTime is { } synced)
            {
                lag = Math.Max(0, (DateTimeOffset.UtcNow - synced.ToDateTimeOffset()).TotalSeconds);
            }
        }
        catch (Exception e) when (e is Rpc.RpcException or HttpRequestException or IOException)
        {
        }
        if (watched.Metrics is { } metrics)
        {
            try
            {
                var lines = await metrics.ReadAsync(_stop.Token);
                journal = MetricsReader.Sum(lines, "replication_journal_outstanding_bytes", watched.LabelValues);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
            }
        }
        return (lag, journal);
    }
}
