using CsiDriver.Engine;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Replication;

public sealed partial class ReplicationManager
{
    /// <summary>
    /// Makes this backup the primary at the next epoch. Without <paramref name="force"/> the main
    /// site is asked first and the promotion refused while it is primary (or cannot be asked).
    /// Either way the old primary is then fenced where it can be reached (see
    /// <see cref="Fence"/>), and what it acknowledged is applied here first or counted as lost
    /// (<see cref="PromotionOutcome"/>); where it cannot be reached the promotion goes ahead on
    /// the epoch alone. The replicas stop receiving; an unfinished resync is abandoned back to the
    /// protected image; they become writable at the last applied cut, which is remembered (with a
    /// snapshot of that image) as the base of the failback resync. Already primary: succeeds,
    /// unless this site is fenced.
    /// Crash order: peer fenced, snapshot, record (role and epoch), writable. A crash before the
    /// record leaves a secondary (read-only, the shipper let back in at the next start) that
    /// repeating the promotion finishes; the first promotion snapshot stays behind, named
    /// repl-promoted-*. A crash after it leaves a primary whose volumes the next start makes writable.
    /// </summary>
    /// <exception cref="ReplicationFencedException">This site is a fenced primary.</exception>
    public async Task PromoteAsync(string replicationId, bool force, CancellationToken cancellationToken)
    {
        var runtime = Get(replicationId);
        using var gate = await EnterAsync(runtime, cancellationToken).ConfigureAwait(false);
        ReplicationRecord record;
        lock (runtime.Lock)
        {
            record = runtime.Record;
            if (record.Role == ReplicationRole.Primary && record.Fence is { Demoting: true })
            {
                // A demotion that never finished: promoting takes the role back.
                record = record with { Fence = null };
                _store.SaveReplication(record);
                runtime.Record = record;
            }
        }
        if (record.Role == ReplicationRole.Primary)
        {
            if (record.Fence is { } fence)
            {
                throw new ReplicationFencedException(replicationId, fence);
            }
            ApplyRole(record);
            return;
        }
        if (!force)
        {
            await RequirePeerNotPrimaryAsync(runtime, record, cancellationToken).ConfigureAwait(false);
        }
        var epoch = record.Epoch + 1;
        var fencedAt = await FencePeerAsync(runtime, record, epoch, cancellationToken).ConfigureAwait(false);
        // Only a backup that follows the old primary can have its writes: a demoted one does not.
        long? lost = fencedAt is not null && record.SecondaryState == ReplicationState.Waiting
            ? await WaitForFencedWritesAsync(runtime, record, fencedAt, cancellationToken).ConfigureAwait(false)
            : null;
        CrashPoints.Reach(CrashPoints.PeerFenced);
        await StopLinksAsync(runtime).ConfigureAwait(false);
        Dictionary<string, string> snapshots;
        long commonCut = 0;
        try
        {
            var journals = record.VolumeIds.Select(_engine.GetVolume).GroupBy(v => v.Group).ToList();
            foreach (var journal in journals)
            {
                var position = _engine.GetReplicaPosition(journal.Key);
                if (position.Resyncing)
                {
                    _engine.AbortReplicaResync(journal.Key);
                    position = _engine.GetReplicaPosition(journal.Key);
                }
                // Per-volume links have no common cut across volumes: their failback ships everything.
                commonCut = journals.Count == 1 ? position.SourceSequence : 0;
            }
            snapshots = Snapshot(record.VolumeIds, "promoted");
        }
        catch
        {
            // Still a secondary: let the shipper back in.
            lock (runtime.Lock)
            {
                runtime.Closing = false;
            }
            throw;
        }
        lock (runtime.Lock)
        {
            // Durable before it takes effect: the volumes become writable only after this.
            runtime.Record = record with
            {
                Role = ReplicationRole.Primary,
                Epoch = epoch,
                SecondaryState = ReplicationState.Waiting,
                CommonCutSequence = commonCut,
                PromotionSnapshots = snapshots,
                ProtectionSnapshots = new Dictionary<string, string>(),
                Fence = null,
                Promotion = new PromotionOutcome(force, fencedAt is not null, lost),
            };
            _store.SaveReplication(runtime.Record);
        }
        CrashPoints.Reach(CrashPoints.PromotionRecorded);
        ApplyRole(runtime.Record);
        DeleteSnapshots(record.ProtectionSnapshots.Values);
        lock (runtime.Lock)
        {
            runtime.Closing = false;
            runtime.ReceiverStatus.Clear();
            StartShippersOrFault(runtime);
        }
        LogPromoted(replicationId, force, epoch, commonCut, runtime.Record.Promotion!.Describe());
    }

    /// <summary>
    /// Makes this primary a secondary: writes are refused from now on; the demotion waits until
    /// the backup has applied what the journal holds (or the drain timeout passes). Shipping goes
    /// on after it returns until the backup takes over (its promotion tells the shippers) or this
    /// site asks for resync. The journal consumers stay: what the backup missed is part of the
    /// later resync. Already secondary: succeeds.
    /// Crash order: fence recorded, read-only, record secondary; a crash between leaves a fenced,
    /// read-only primary that repeating the demotion finishes.
    /// </summary>
    public async Task DemoteAsync(string replicationId, CancellationToken cancellationToken)
    {
        var runtime = Get(replicationId);
        using var gate = await EnterAsync(runtime, cancellationToken).ConfigureAwait(false);
        ReplicationRecord record;
        List<JournalShipper> shippers;
        lock (runtime.Lock)
        {
            record = runtime.Record;
            shippers = runtime.Shippers.ToList();
            if (record.Role == ReplicationRole.Primary && record.Fence is null)
            {
                record = record with { Fence = new ReplicationFence(record.Epoch, "this site is being demoted", Demoting: true) };
                _store.SaveReplication(record);
                runtime.Record = record;
            }
        }
        if (record.Role == ReplicationRole.Secondary)
        {
            return;
        }
        CrashPoints.Reach(CrashPoints.FenceRecorded);
        ApplyRole(record);
        var drained = true;
        foreach (var shipper in shippers)
        {
            drained &= await shipper.DrainAsync(_options.DrainTimeout, _options.DrainLinkGrace, cancellationToken).ConfigureAwait(false);
        }
        CrashPoints.Reach(CrashPoints.DemotionDrained);
        lock (runtime.Lock)
        {
            var current = runtime.Record;
            runtime.Fault = null;
            runtime.Record = current with
            {
                Role = ReplicationRole.Secondary,
                Epoch = Math.Max(current.Epoch, current.Fence?.Epoch ?? 0),
                SecondaryState = ReplicationState.Demoted,
                CommonCutSequence = 0,
                PromotionSnapshots = new Dictionary<string, string>(),
                Fence = null,
                Promotion = null,
            };
            _store.SaveReplication(runtime.Record);
        }
        DeleteSnapshots(record.PromotionSnapshots.Values);
        LogDemoted(replicationId, drained);
    }

    /// <summary>
    /// At a demoted old primary: protects its image with a snapshot and starts accepting the new
    /// primary, which ships only the chunks that diverged since the last common cut. Ready once
    /// that resync completed; at an ordinary backup ready once its replicas are a consistent image.
    /// </summary>
    public async Task<ResyncProgress> ResyncAsync(string replicationId, CancellationToken cancellationToken)
    {
        var runtime = Get(replicationId);
        using var gate = await EnterAsync(runtime, cancellationToken).ConfigureAwait(false);
        ResyncProgress progress;
        lock (runtime.Lock)
        {
            var record = runtime.Record;
            if (record.Role == ReplicationRole.Primary)
            {
                throw new ReplicationStateException($"replication '{replicationId}' is primary here{(record.Fence is { } fence ? $" (fenced: {fence.Reason})" : "")}: demote it before resyncing it from the other site");
            }
            if (record.SecondaryState == ReplicationState.Demoted)
            {
                runtime.Record = record with
                {
                    SecondaryState = ReplicationState.AwaitingResync,
                    ProtectionSnapshots = Snapshot(record.VolumeIds, "protect"),
                };
                _store.SaveReplication(runtime.Record);
                // From now on this site receives: whatever its shippers had not delivered is part of the resync.
                StopShippersLocked(runtime);
                LogResyncRequested(replicationId);
            }
            var links = runtime.ReceiverStatus.Values.Select(l => l.Snapshot()).ToList();
            var waiting = runtime.Record.SecondaryState == ReplicationState.AwaitingResync;
            // Ready: every link has applied a consistent image (a position) and none is resyncing.
            progress = Sum(links.Select(l => l.Resync)) with
            {
                Ready = !waiting && links.Count > 0 && !links.Any(l => l.Resyncing) && links.All(l => l.AppliedSequence > 0),
            };
        }
        await DisposeStoppedShippersAsync(runtime).ConfigureAwait(false);
        return progress;
    }

    private static ResyncProgress Sum(IEnumerable<ResyncProgress> parts) => parts.Aggregate(
        new ResyncProgress(true, 0, 0, 0, 0),
        (a, b) => new ResyncProgress(a.Ready && b.Ready, a.ChunksDone + b.ChunksDone, a.ChunksTotal + b.ChunksTotal, a.BytesDone + b.BytesDone, a.BytesTotal + b.BytesTotal));

    private async Task RequirePeerNotPrimaryAsync(ReplicationRuntime runtime, ReplicationRecord record, CancellationToken cancellationToken)
    {
        var peer = record.PeerAddress ?? throw new ReplicationStateException(
            $"replication '{record.Id}': the main site's address is unknown, so it cannot be asked whether it is primary; promote with force");
        var tls = runtime.Tls ?? _options.DefaultTls ?? throw new ReplicationStateException($"replication '{record.Id}': no site-link TLS material to ask the main site; promote with force");
        PeerRole answer;
        try
        {
            using var client = new SiteLinkClient(SiteLinkAddress.Parse(peer), PeerTls(tls));
            answer = await client.GetRoleAsync(record.Id, _options.RoleQueryTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is LinkFailedException or IncompatiblePeerException)
        {
            throw new PeerUnreachableException(record.Id, peer, e);
        }
        if (answer.Role == ReplicationRole.Primary)
        {
            throw new PeerIsPrimaryException(record.Id, peer);
        }
    }

    /// <summary>One group snapshot of the volumes (one cut); volume id → snapshot id.</summary>
    private Dictionary<string, string> Snapshot(IReadOnlyList<string> volumeIds, string purpose)
    {
        var tag = Guid.NewGuid().ToString("N")[..12];
        var members = volumeIds.Select((v, i) => (VolumeId: v, SnapshotId: $"{ReplicationSnapshots.Prefix}{purpose}-{tag}-{i}")).ToList();
        _engine.CreateGroupSnapshot(members, SnapshotPurpose.ReplicationImage);
        return members.ToDictionary(m => m.VolumeId, m => m.SnapshotId, StringComparer.Ordinal);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "replication {ReplicationId} promoted here (force {Force}) at epoch {Epoch}, source sequence {CommonCut}: {Outcome}")]
    private partial void LogPromoted(string replicationId, bool force, long epoch, long commonCut, string outcome);

    [LoggerMessage(Level = LogLevel.Warning, Message = "replication {ReplicationId} demoted here (backup drained: {Drained})")]
    private partial void LogDemoted(string replicationId, bool drained);

    [LoggerMessage(Level = LogLevel.Information, Message = "replication {ReplicationId}: resync requested; the old image is protected by a snapshot until it completes")]
    private partial void LogResyncRequested(string replicationId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "replication {ReplicationId}: cannot ship yet: {Reason}")]
    private partial void LogCannotShip(string replicationId, string reason);
}
