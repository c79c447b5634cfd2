using CsiDriver.Engine;

namespace CsiDriver.Replication;

public sealed partial class ReplicationManager
{
    /// <summary>A replication's status, aggregated over its links (per-volume mode: the
    /// furthest-behind link decides the applied point and the lag).</summary>
    private ReplicationInfo Describe(ReplicationRuntime runtime)
    {
        ReplicationRecord record;
        List<LinkSnapshot> links;
        string? fault;
        lock (runtime.Lock)
        {
            record = runtime.Record;
            links = runtime.Links.Select(l => l.Snapshot()).ToList();
            fault = runtime.Fault;
        }
        var now = _options.Clock.GetUtcNow();
        var applied = links.Count == 0 ? 0 : links.Min(l => l.AppliedSequence);
        var appliedMicros = links.Count == 0 ? 0 : links.Min(l => l.AppliedSourceMicros);
        DateTimeOffset? lastSync = appliedMicros > 0 ? DateTimeOffset.UnixEpoch.AddTicks(appliedMicros * 10) : null;
        var (outstandingRecords, outstandingBytes, overrun) = Outstanding(record, runtime);
        // The primary knows its journal; a backup knows what the last heartbeat said, while it hears them.
        var caughtUp = record.Role == ReplicationRole.Primary
            ? outstandingRecords == 0 && !links.Any(l => l.Resyncing)
            : links.All(l => l.IsLive(_options.ReceiverSilenceTimeout) && !l.Resyncing && l.AppliedSequence >= l.SourceLastSequence);
        var lag = caughtUp || lastSync is null ? TimeSpan.Zero : now - lastSync.Value;
        // Per-volume mode: the slowest link's last sync speaks for the replication.
        var slowest = links.MaxBy(l => l.LastSyncDuration ?? TimeSpan.Zero);
        var resync = Sum(links.Select(l => l.Resync));
        var state = StateOf(record, links, _options.ReceiverSilenceTimeout);
        var (health, message) = record.Fence is { Demoting: false } fence ? (ReplicationHealth.Error, $"fenced, writes refused: {fence.Reason}")
            : fault is not null ? (ReplicationHealth.Error, $"cannot run: {fault}")
            : record.Fence is { } demoting ? (ReplicationHealth.Degraded, $"demoting: writes refused; the backup is given what the journal holds")
            : HealthOf(record, state, links, lag, overrun, resync);
        // The csi-addons status has only this message to show the epoch and the promotion's outcome.
        message += $"; epoch {record.Epoch}";
        if (record.Role == ReplicationRole.Primary && record.Fence is null && record.Promotion is { } promotion)
        {
            message += $"; promoted{(promotion.Forced ? " with force" : "")}: {promotion.Describe()}";
        }
        return new ReplicationInfo(
            record.Id, record.Role, state, record.Mode, record.VolumeIds, record.PeerAddress,
            applied, lastSync, slowest?.LastSyncDuration, slowest?.LastSyncBytes ?? 0,
            lag, health, message, outstandingBytes, outstandingRecords,
            links.Sum(l => l.ShipBytesPerSecond), links.Sum(l => l.ApplyBytesPerSecond),
            resync, links.Sum(l => l.LastResyncChunks), links.Count == 0 ? 0 : links.Min(l => l.BacklogPlannedThrough),
            record.Epoch, record.Fence, record.Promotion);
    }

    /// <summary>The receiving side's link statuses of a replication (tests count messages by them).</summary>
    internal IReadOnlyList<LinkStatus> ReceiverLinks(string replicationId)
    {
        var runtime = Get(replicationId);
        lock (runtime.Lock)
        {
            return runtime.ReceiverStatus.Values.ToList();
        }
    }

    private static ReplicationState StateOf(ReplicationRecord record, List<LinkSnapshot> links, TimeSpan silence)
    {
        if (record.Role == ReplicationRole.Secondary && record.SecondaryState != ReplicationState.Waiting && !links.Any(l => l.Resyncing))
        {
            return record.SecondaryState;
        }
        if (links.Any(l => l.Resyncing))
        {
            return ReplicationState.Resyncing;
        }
        if (links.Count > 0 && links.All(l => l.IsLive(silence)))
        {
            return ReplicationState.Replicating;
        }
        return record.Role == ReplicationRole.Primary ? ReplicationState.Connecting : ReplicationState.Waiting;
    }

    /// <summary>At a primary: records not yet applied at the backup, the journal bytes retained
    /// for them, and whether the budget was exceeded (dirty-chunk tracking).</summary>
    private (long Records, long Bytes, bool Overrun) Outstanding(ReplicationRecord record, ReplicationRuntime runtime)
    {
        if (record.Role != ReplicationRole.Primary)
        {
            return (0, 0, false);
        }
        long records = 0, bytes = 0;
        var overrun = false;
        List<ShipperTarget> targets;
        lock (runtime.Lock)
        {
            targets = runtime.Shippers.Select(s => s.Target).ToList();
        }
        foreach (var journal in targets.GroupBy(t => t.Journal))
        {
            JournalStatus status;
            try
            {
                status = _engine.GetJournalStatus(journal.Key);
            }
            catch (ArgumentException)
            {
                continue; // the group went away under us
            }
            var consumers = status.Consumers.Where(c => journal.Any(t => t.Consumer == c.Name)).ToList();
            if (consumers.Count == 0)
            {
                continue;
            }
            var behind = status.LastSequence - consumers.Min(c => c.Position);
            records += behind;
            bytes += behind > 0 ? status.RetainedBytes : 0;
            overrun |= consumers.Any(c => c.Overrun);
        }
        return (records, bytes, overrun);
    }

    private static (ReplicationHealth, string) HealthOf(
        ReplicationRecord record, ReplicationState state, List<LinkSnapshot> links, TimeSpan lag, bool overrun, ResyncProgress resync)
    {
        var failure = links.Select(l => l.Failure).FirstOrDefault(f => f is not null);
        var down = links.Where(l => !l.Connected).Select(l => l.DisconnectedSince).Min();
        return state switch
        {
            ReplicationState.Demoted => (ReplicationHealth.Degraded, "demoted: read-only; request resync to follow the new primary"),
            ReplicationState.AwaitingResync => (ReplicationHealth.Degraded, "waiting for the new primary to connect and resync the chunks that diverged"),
            ReplicationState.Resyncing => (ReplicationHealth.Degraded,
                $"resyncing: {resync.BytesDone} of {resync.BytesTotal} bytes ({resync.ChunksDone} of {resync.ChunksTotal} chunks); the backup's last consistent image is protected"),
            _ when overrun => (ReplicationHealth.Degraded,
                $"journal budget exceeded: tracking dirty chunks; a delta resync follows when the link is back (lag {lag.TotalSeconds:0.###} s)"),
            _ when failure is { Refused: true } => (ReplicationHealth.Error, $"the peer refuses the link: {failure}"),
            ReplicationState.Connecting or ReplicationState.Waiting when record.PeerAddress is null && record.Role == ReplicationRole.Primary =>
                (ReplicationHealth.Error, "no peer address to ship to"),
            ReplicationState.Connecting => (ReplicationHealth.Degraded,
                $"link to {record.PeerAddress} down{(down is { } since ? $" since {since:O}" : "")}: {failure?.Reason ?? "connecting"}; lag {lag.TotalSeconds:0.###} s; the journal keeps the updates within its budget"),
            ReplicationState.Waiting => (ReplicationHealth.Degraded, $"no shipper connected{(down is { } since ? $" since {since:O}" : "")}; lag {lag.TotalSeconds:0.###} s"),
            _ => (ReplicationHealth.Healthy, $"replicating; lag {lag.TotalSeconds:0.###} s"),
        };
    }
}
