using CsiDriver.Engine;
using Formation.SiteLink.V1;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Replication;

public sealed partial class ShipperSession
{
    private enum ResyncKind
    {
        /// <summary>Every allocated chunk: initial sync, or a receiver whose image is unknown.</summary>
        Full,

        /// <summary>After an overrun: dirty chunks plus chunks of records still retained after the receiver's position.</summary>
        Delta,

        /// <summary>A backlog larger than the volumes (<see cref="ShipperSettings.CoalesceBacklogBytes"/>):
        /// the chunks its records changed, shipped as one atomic cut. Planned as a delta (with no
        /// overrun the dirty set is empty and the records are all retained).</summary>
        Coalesced,

        /// <summary>To a demoted old primary: chunks changed here since the promotion plus chunks it wrote after the common cut.</summary>
        Failback,
    }

    /// <summary>Decides from the receiver's answer whether to resync, and how; returns the
    /// source sequence batches continue after.</summary>
    private async Task<long> PrepareAsync(Opened opened, CancellationToken cancellationToken)
    {
        engine.RegisterJournalConsumer(target.Journal, target.Consumer);
        var journal = engine.GetJournalStatus(target.Journal);
        var consumer = journal.Consumers.Single(c => c.Name == target.Consumer);
        var applied = opened.AppliedSequence;
        var retained = applied + 1 >= journal.FirstSequence;
        ResyncKind? kind = opened switch
        {
            { AwaitingFailback: true } => ResyncKind.Failback,
            { Resyncing: true } or { AppliedSequence: 0 } => ResyncKind.Full,
            _ when applied > journal.LastSequence => ResyncKind.Full,
            _ when retained && !consumer.Overrun && consumer.Position <= applied && BacklogOutgrowsVolumes(journal) => ResyncKind.Coalesced,
            _ when retained && !consumer.Overrun => null,
            // Records after the backup's position were released: the consumer's dirty set knows
            // their chunks only if it was already holding that position (not one registered since).
            _ when consumer.Position <= applied => ResyncKind.Delta,
            _ => ResyncKind.Full,
        };
        if (kind is null)
        {
            // The receiver holds a prefix of this journal: continue right after it. A consumer
            // registered since (ahead of the receiver) is pulled back so the records stay.
            if (consumer.Position > applied)
            {
                engine.ResetJournalConsumer(target.Journal, target.Consumer, applied);
            }
            else
            {
                engine.AdvanceJournalConsumer(target.Journal, target.Consumer, applied);
            }
            status.Applied(applied, opened.AppliedSourceTimestampMicros);
            if (target.Replication.FailbackBase() is not null)
            {
                target.Replication.FailbackCompleted();
            }
            return applied;
        }
        _ownPositionsFrom = long.MaxValue;
        return await ResyncAsync(kind.Value, opened, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether catching up record by record would move more than the shipped volumes
    /// hold. The journal's retained bytes stand for the backlog: what it still holds was
    /// kept for this consumer (records before it and checkpointed are released).</summary>
    private bool BacklogOutgrowsVolumes(JournalStatus journal) =>
        journal.RetainedBytes >= settings.CoalesceBacklogBytes
        && journal.RetainedBytes > target.VolumeIds.Sum(v => engine.GetVolume(v).Size);

    private async Task<long> ResyncAsync(ResyncKind kind, Opened opened, CancellationToken cancellationToken)
    {
        var tag = Guid.NewGuid().ToString("N")[..12];
        var members = target.VolumeIds.Select((volumeId, i) => (VolumeId: volumeId, SnapshotId: $"{ReplicationManager.ResyncSnapshotPrefix}{tag}-{i}")).ToList();
        var snapshots = engine.CreateGroupSnapshot(members, out var cut, SnapshotPurpose.ResyncSource);
        var at = cut.Points.Single(p => p.Group == target.Journal).Sequence;
        var atMicros = (snapshots[0].CreatedAt - DateTimeOffset.UnixEpoch).Ticks / 10;
        var byVolume = members.ToDictionary(m => m.VolumeId, m => m.SnapshotId, StringComparer.Ordinal);
        var reset = Task.CompletedTask;
        try
        {
            var plan = Plan(kind, opened, byVolume, at);
            if (plan.NeedsEverything)
            {
                kind = ResyncKind.Full;
                plan = Plan(kind, opened, byVolume, at);
            }
            // From here the consumer keeps records after the cut; what it missed before is in the
            // plan. The reset makes that durable with a checkpoint (which may write back the whole
            // backlog): it runs while the chunks are read and sent, and the ResyncComplete (after
            // which batches continue from the cut) waits for it. Records up to the cut stay held
            // meanwhile; released after the cut, the reset fails and so does this resync.
            reset = Task.Run(() => engine.ResetJournalConsumer(target.Journal, target.Consumer, at), CancellationToken.None);
            var sizes = snapshots.ToDictionary(s => s.VolumeId, s => s.SizeBytes, StringComparer.Ordinal);
            var (chunksTotal, bytesTotal) = ResyncSender.TotalsOf(plan, sizes);
            status.BeginResync(chunksTotal, bytesTotal);
            status.Connected();
            _resyncIsFailback = kind == ResyncKind.Failback;
            LogResyncStarting(target.ReplicationId, kind.ToString(), at, chunksTotal, bytesTotal);
            await SendAsync(new ShipperMessage { ResyncBegin = new ResyncBegin { ChunksTotal = chunksTotal, BytesTotal = bytesTotal, Whole = SendsWhole(kind, opened) } }, cancellationToken).ConfigureAwait(false);
            var reported = 0L;
            await foreach (var (message, chunks, bytes) in new ResyncSender(engine, byVolume).ReadAsync(plan, cancellationToken).ConfigureAwait(false))
            {
                await SendAsync(new ShipperMessage { Chunks = SiteLinkProtocol.ToWire(message) }, cancellationToken).ConfigureAwait(false);
                var progress = status.AddResyncProgress(chunks, bytes);
                if (progress.BytesDone - reported >= 64L << 20)
                {
                    reported = progress.BytesDone;
                    LogResyncProgress(target.ReplicationId, reported, bytesTotal);
                }
            }
            await reset.ConfigureAwait(false);
            // Acks from the ResyncComplete on carry positions in this journal's sequence space.
            var complete = _sent + 1;
            Volatile.Write(ref _resyncCompleteMessage, complete);
            Volatile.Write(ref _ownPositionsFrom, complete);
            await SendAsync(new ShipperMessage { ResyncComplete = new ResyncComplete { SourceSequence = at, SourceTimestampMicros = atMicros } }, cancellationToken).ConfigureAwait(false);
            return at;
        }
        finally
        {
            // A resync that failed while the reset ran: it must end before the snapshots go (it
            // holds the checkpoint lock); its own failure is the lesser news.
            await reset.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            // Every chunk was read before it was sent: the snapshots are no longer needed.
            foreach (var (_, snapshotId) in members)
            {
                engine.DeleteSnapshot(snapshotId);
            }
        }
    }

    /// <summary>Whether the resync sends every chunk the source holds (and the receiver starts
    /// from nothing, see ResyncBegin.whole), not the chunks that differ from a base both sides share.</summary>
    private bool SendsWhole(ResyncKind kind, Opened opened) =>
        kind == ResyncKind.Full || (kind == ResyncKind.Failback && (opened.FullResyncRequired || target.Replication.FailbackBase() is null));

    private ChunkSetBuilder Plan(ResyncKind kind, Opened opened, IReadOnlyDictionary<string, string> snapshots, long at)
    {
        var plan = new ChunkSetBuilder();
        var failback = target.Replication.FailbackBase();
        if (SendsWhole(kind, opened))
        {
            foreach (var (volumeId, snapshotId) in snapshots)
            {
                plan.Add(volumeId, engine.AllocatedChunks(snapshotId));
            }
            return plan;
        }
        if (kind == ResyncKind.Failback)
        {
            foreach (var (volumeId, snapshotId) in snapshots)
            {
                if (failback!.PromotionSnapshots.TryGetValue(volumeId, out var promoted) && engine.FindSnapshot(promoted) is not null)
                {
                    plan.Add(volumeId, engine.ChangedChunks(promoted, snapshotId));
                }
                else
                {
                    plan.Add(volumeId, engine.AllocatedChunks(snapshotId));
                }
            }
            // The receiver names its own copies: each is mapped back to the volume shipped.
            var shipped = target.VolumeIds.ToDictionary(Peer!.Of, v => v, StringComparer.Ordinal);
            foreach (var diverged in opened.Diverged)
            {
                var volumeId = shipped.GetValueOrDefault(diverged.VolumeId)
                    ?? throw new MalformedMessageException($"the receiver reported divergence of volume '{diverged.VolumeId}', which is not shipped");
                plan.Add(volumeId, SiteLinkProtocol.FromWire(diverged));
            }
            return plan;
        }
        var volumes = target.VolumeIds.ToHashSet(StringComparer.Ordinal);
        foreach (var (volumeId, ranges) in engine.GetDirtyChunks(target.Journal, target.Consumer))
        {
            if (volumes.Contains(volumeId))
            {
                plan.Add(volumeId, ranges);
            }
        }
        var first = Math.Max(opened.AppliedSequence + 1, engine.GetJournalStatus(target.Journal).FirstSequence);
        // What the backlog's plan read during the outage is not read again.
        first = backlog.AddTo(plan, first);
        foreach (var record in engine.ReadJournal(target.Journal, first, payloads: false).TakeWhile(r => r.Sequence <= at))
        {
            plan.Add(record, volumes);
        }
        return plan;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "replication {ReplicationId}: {Kind} resync at source sequence {Sequence}: {Chunks} chunks, {Bytes} bytes")]
    private partial void LogResyncStarting(string replicationId, string kind, long sequence, long chunks, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "replication {ReplicationId}: resync shipped {Done} of {Total} bytes")]
    private partial void LogResyncProgress(string replicationId, long done, long total);
}
