using CsiDriver.Engine;

namespace CsiDriver.Replication;

public sealed partial class ReplicationManager
{
    /// <summary>A replication's status, aggregated over its links (per-volume mode: the
    /// furthest-behind link decides the applied point and the lag).</summary>
    private ReplicationInfo Describe(ReplicationRuntime runtime)
    {
        ReplicationRecord record;
        List<LinkStatus> links;
        string? fault;
        lock (runtime.Lock)
        {
            record = runtime.Record;
            links = runtime.Links.ToList();
            fault = runtime.Fault;
        }
        var now = _options.Clock.GetUtcNow();
        var applied = links.Count == 0 ? 0 : links.Min(l => Interlocked.Read(ref l.AppliedSequence));
        var appliedMicros = links.Count == 0 ? 0 : links.Min(l => Interlocked.Read(ref l.AppliedSourceMicros));
        DateTimeOffset? lastSync = appliedMicros > 0 ? DateTimeOffset.UnixEpoch.AddTicks(appliedMicros * 10) : null;
        var (outstandingRecords, outstandingBytes, overrun) = Outstanding(record, runtime);
        // The primary knows its journal; a backup knows what the last heartbeat said, while it hears them.
        var caughtUp = record.Role == ReplicationRole.Primary
            ? outstandingRecords == 0 && !links.Any(l => l.Resyncing)
            : links.All(l => l.IsLive(_options.ReceiverSilenceTimeout) && !l.Resyncing
                && Interlocked.Read(ref l.AppliedSequence) >= Interlocked.Read(ref l.SourceLastSequence));
        var lag = caughtUp || lastSync is null ? TimeSpan.Zero : now - lastSync.Value;
        var newest = links.OrderByDescending(l => Interlocked.Read(ref l.LastSyncTicks)).FirstOrDefault();
        var resync = Sum(links.Select(l => l.Resync));
        var state = StateOf(record, links, _options.ReceiverSilenceTimeout);
        var (health, message) = fault is not null ? (ReplicationHealth.Error, $"cannot run: {fault}") : HealthOf(record, state, links, lag, overrun, resync);
        return new ReplicationInfo(
            record.Id, record.Role, state, record.Mode, record.VolumeIds, record.PeerAddress,
            applied, lastSync,
            newest is null ? null : TimeSpan.FromTicks(Interlocked.Read(ref newest.LastSyncTicks)),
            newest is null ? 0 : Interlocked.Read(ref newest.LastSyncBytes),
            lag, health, message, outstandingBytes, outstandingRecords,
            links.Sum(l => l.Shipped.BytesPerSecond), links.Sum(l => l.Applied.BytesPerSecond),
            resync, links.Sum(l => l.LastResyncChunks));
    }

    private static ReplicationState StateOf(ReplicationRecord record, List<LinkStatus> links, TimeSpan silence)
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
        ReplicationRecord record, ReplicationState state, List<LinkStatus> links, TimeSpan lag, bool overrun, ResyncProgress resync)
    {
        var error = links.Select(l => l.LastError).FirstOrDefault(e => e is not null);
        var down = links.Where(l => !l.Connected).Select(l => l.DisconnectedSince).Min();
        return state switch
        {
            ReplicationState.Demoted => (ReplicationHealth.Degraded, "demoted: read-only; request resync to follow the new primary"),
            ReplicationState.AwaitingResync => (ReplicationHealth.Degraded, "waiting for the new primary to connect and resync the chunks that diverged"),
            ReplicationState.Resyncing => (ReplicationHealth.Degraded,
                $"resyncing: {resync.BytesDone} of {resync.BytesTotal} bytes ({resync.ChunksDone} of {resync.ChunksTotal} chunks); the backup's last consistent image is protected"),
            _ when overrun => (ReplicationHealth.Degraded,
                $"journal budget exceeded: tracking dirty chunks; a delta resync follows when the link is back (lag {lag.TotalSeconds:0.###} s)"),
            _ when error is not null && error.StartsWith(nameof(Rpc.StatusCode.FailedPrecondition), StringComparison.Ordinal) => (ReplicationHealth.Error, $"the peer refuses the link: {error}"),
            ReplicationState.Connecting or ReplicationState.Waiting when record.PeerAddress is null && record.Role == ReplicationRole.Primary =>
                (ReplicationHealth.Error, "no peer address to ship to"),
            ReplicationState.Connecting => (ReplicationHealth.Degraded,
                $"link to {record.PeerAddress} down{(down is { } since ? $" since {since:O}" : "")}: {error ?? "connecting"}; lag {lag.TotalSeconds:0.###} s; the journal keeps the updates within its budget"),
            ReplicationState.Waiting => (ReplicationHealth.Degraded, $"no shipper connected{(down is { } since ? $" since {since:O}" : "")}; lag {lag.TotalSeconds:0.###} s"),
            _ => (ReplicationHealth.Healthy, $"replicating; lag {lag.TotalSeconds:0.###} s"),
        };
    }
}
