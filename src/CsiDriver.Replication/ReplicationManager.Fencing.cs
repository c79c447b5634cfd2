using CsiDriver.Engine;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Replication;

/// <summary>
/// Epochs and fencing: how a promotion makes sure there is never a moment with two writable
/// primaries of one group, and how an old primary that missed the promotion stops once it hears
/// of it.
/// <para>Every promotion takes the next epoch. A promoting backup first asks the old primary to
/// fence itself (<see cref="Fence"/>): the old primary records the fence, makes its volumes
/// read-only (no write in progress once that returns) and answers with the newest sequence of its
/// journal, which the backup waits to have applied — or counts as lost — before it records its
/// own role and takes writes. An old primary that cannot be asked learns the newer epoch on its
/// first contact over the site link, from either direction (<see cref="Supersede"/>).</para>
/// <para>On-disk invariant: the record (<see cref="IReplicationStore"/>) decides, and it is
/// saved before the engine's read-only flags follow it; <see cref="ApplyRole"/> makes them follow
/// again at every start, before any front end serves a write. A secondary's and a fenced
/// primary's volumes are read-only; an unfenced primary's are writable.</para>
/// </summary>
public sealed partial class ReplicationManager
{
    /// <summary>
    /// A backup that takes <paramref name="epoch"/> asks this site to stop accepting writes
    /// (the site link's Fence). A primary records the fence, then refuses every write; its
    /// shippers keep running, so what it acknowledged still reaches the asker. Answers this
    /// site's epoch and, where it holds writes the asker may lack (a primary, or a demoted one
    /// still draining), the newest sequence of each volume's journal. A site that knows no such
    /// replication holds nothing of it: an empty answer.
    /// </summary>
    /// <exception cref="ReplicationStateException">This site is primary at <paramref name="epoch"/> or newer.</exception>
    public PeerFenced Fence(string replicationId, long epoch, string bySite)
    {
        if (Find(replicationId) is not { } runtime)
        {
            return new PeerFenced(0, new Dictionary<string, long>());
        }
        ReplicationRecord record;
        lock (runtime.Lock)
        {
            record = runtime.Record;
            if (record.Role == ReplicationRole.Primary && record.Fence is null && record.Epoch >= epoch)
            {
                throw new ReplicationStateException(
                    $"replication '{replicationId}' is primary at site '{SiteId}' at epoch {record.Epoch}, not older than epoch {epoch} that site '{bySite}' asks to take");
            }
            record = record.Role == ReplicationRole.Primary
                ? record.Fence is { } fence && fence.Epoch >= epoch && !fence.Demoting
                    ? record
                    : record with { Fence = new ReplicationFence(epoch, $"site '{bySite}' is taking over as primary at epoch {epoch} (this site: epoch {record.Epoch}); demote this site and resync it from there") }
                : record with { Epoch = Math.Max(record.Epoch, epoch) };
            if (record != runtime.Record)
            {
                _store.SaveReplication(record);
                runtime.Record = record;
            }
        }
        CrashPoints.Reach(CrashPoints.FenceRecorded);
        ApplyRole(record);
        if (record.Role == ReplicationRole.Primary)
        {
            LogFenced(replicationId, bySite, epoch);
        }
        var holdsWrites = record.Role == ReplicationRole.Primary || record.SecondaryState == ReplicationState.Demoted;
        return new PeerFenced(record.Epoch, holdsWrites ? LastSequences(record) : new Dictionary<string, long>());
    }

    /// <summary>
    /// A peer at a newer epoch made contact (its shipper's Open, or its answer to this site's
    /// shipper): a primary here is fenced for good — the peer took over while this site could
    /// not be asked, so what it wrote since the last cut both hold is not replicated, and is
    /// discarded by the resync. At a secondary the newer epoch is only remembered. Either way
    /// this site's shippers have nothing more to ship there.
    /// </summary>
    /// <param name="commonCut">The peer's last cut held in common, in this site's sequence space, when it said (0: not said).</param>
    private void Supersede(ReplicationRuntime runtime, long epoch, string bySite, long commonCut)
    {
        ReplicationRecord record;
        lock (runtime.Lock)
        {
            record = runtime.Record;
            if (record.Role == ReplicationRole.Primary && record.Fence is not { Demoting: false } || record.Epoch < epoch && record.Role == ReplicationRole.Secondary)
            {
                var unreplicated = record.Role == ReplicationRole.Primary && commonCut > 0
                    ? $"; {LastSequences(record).Values.Max() - commonCut} records written here after the last cut it holds are not replicated and are discarded by the resync"
                    : "";
                record = record.Role == ReplicationRole.Primary
                    ? record with { Fence = new ReplicationFence(epoch, $"site '{bySite}' was promoted at epoch {epoch} while this site (epoch {record.Epoch}) could not be asked{unreplicated}; demote this site and resync it from there") }
                    : record with { Epoch = epoch };
                _store.SaveReplication(record);
                runtime.Record = record;
                if (record.Role == ReplicationRole.Primary)
                {
                    LogSuperseded(record.Id, bySite, epoch);
                }
            }
        }
        CrashPoints.Reach(CrashPoints.FenceRecorded);
        ApplyRole(record);
    }

    /// <summary>
    /// At start, before any front end serves a write: each unfenced primary asks its peer once
    /// for its role and epoch (bounded by the role query timeout, all at once) and is fenced if
    /// the peer took a newer epoch meanwhile. A peer that cannot be asked leaves it as it is:
    /// until its first contact such a site cannot know (the README states this window).
    /// </summary>
    public async Task CheckInAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(Runtimes().Select(async runtime =>
        {
            ReplicationRecord record;
            lock (runtime.Lock)
            {
                record = runtime.Record;
            }
            if (record.Role != ReplicationRole.Primary || record.Fence is not null || record.PeerAddress is not { } peer
                || (runtime.Tls ?? _options.DefaultTls) is not { } tls)
            {
                return;
            }
            try
            {
                using var client = new SiteLinkClient(SiteLinkAddress.Parse(peer), PeerTls(tls));
                var answer = await client.GetRoleAsync(record.Id, _options.RoleQueryTimeout, cancellationToken).ConfigureAwait(false);
                if (answer.Epoch > record.Epoch)
                {
                    Supersede(runtime, answer.Epoch, answer.SiteId, commonCut: 0);
                }
            }
            catch (Exception e) when (e is LinkFailedException or IncompatiblePeerException)
            {
                LogCheckInFailed(record.Id, peer, e.Message);
            }
        })).ConfigureAwait(false);
    }

    /// <summary>Makes the volumes' read-only flags what the record says (see the invariant above);
    /// a volume that is gone is skipped (the replication reports it when it runs).</summary>
    private void ApplyRole(ReplicationRecord record)
    {
        var (readOnly, reason) = record.Role == ReplicationRole.Secondary ? (true, null)
            : record.Fence is { } fence ? (true, $"replication '{record.Id}' is fenced: {fence.Reason}")
            : (false, (string?)null);
        foreach (var volumeId in record.VolumeIds)
        {
            if (_engine.FindVolume(volumeId) is { } volume && (volume.IsReadOnly != readOnly || reason is not null))
            {
                _engine.SetVolumeReadOnly(volumeId, readOnly, reason);
            }
        }
    }

    /// <summary>Per volume, the newest sequence of its journal now.</summary>
    private Dictionary<string, long> LastSequences(ReplicationRecord record) =>
        record.VolumeIds
            .Select(v => (VolumeId: v, Volume: _engine.FindVolume(v)))
            .Where(v => v.Volume is not null)
            .ToDictionary(v => v.VolumeId, v => _engine.GetJournalStatus(v.Volume!.Group).LastSequence, StringComparer.Ordinal);

    /// <summary>
    /// Asks the old primary to fence itself before this site takes <paramref name="epoch"/>; its
    /// answer by this site's volume ids. Null when it cannot be asked (no address or TLS, down,
    /// or a build that predates Fence): the promotion then goes ahead on the epoch alone.
    /// </summary>
    /// <exception cref="ReplicationStateException">The peer refused: it is primary at the same or a newer epoch.</exception>
    private async Task<IReadOnlyDictionary<string, long>?> FencePeerAsync(ReplicationRuntime runtime, ReplicationRecord record, long epoch, CancellationToken cancellationToken)
    {
        if (record.PeerAddress is not { } peer || (runtime.Tls ?? _options.DefaultTls) is not { } tls)
        {
            return null;
        }
        PeerFenced answer;
        try
        {
            using var client = new SiteLinkClient(SiteLinkAddress.Parse(peer), PeerTls(tls));
            answer = await client.FenceAsync(record.Id, epoch, SiteId, _options.RoleQueryTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (LinkFailedException e) when (e.Failure.Refused)
        {
            throw new ReplicationStateException($"replication '{record.Id}': the peer site {peer} refuses to be fenced: {e.Message}");
        }
        catch (Exception e) when (e is LinkFailedException or IncompatiblePeerException)
        {
            LogPeerNotFenced(record.Id, peer, e.Message);
            return null;
        }
        return answer.LastSequences.ToDictionary(p => OwnedIds.Rebase(p.Key, OwnerTag), p => p.Value, StringComparer.Ordinal);
    }

    /// <summary>
    /// Waits until this backup has applied everything the fenced old primary acknowledged
    /// (<paramref name="fencedAt"/>, per volume); returns how many of those records did not
    /// arrive: after the drain timeout, once no stream has been connected for the link grace, or
    /// at once while a resync runs (the promotion abandons it for the protected image anyway).
    /// </summary>
    private async Task<long> WaitForFencedWritesAsync(ReplicationRuntime runtime, ReplicationRecord record, IReadOnlyDictionary<string, long> fencedAt, CancellationToken cancellationToken)
    {
        var targets = record.VolumeIds
            .Where(fencedAt.ContainsKey)
            .GroupBy(v => _engine.GetVolume(v).Group)
            .Select(g => (Journal: g.Key, Sequence: g.Max(v => fencedAt[v])))
            .ToList();
        long Missing() => targets.Sum(t => Math.Max(0, t.Sequence - _engine.GetReplicaPosition(t.Journal).SourceSequence));
        var deadline = DateTimeOffset.UtcNow + _options.DrainTimeout;
        var waitedFrom = DateTimeOffset.UtcNow;
        while (Missing() is var missing && missing > 0)
        {
            if (targets.Any(t => _engine.GetReplicaPosition(t.Journal).Resyncing))
            {
                return missing;
            }
            List<LinkSnapshot> links;
            lock (runtime.Lock)
            {
                links = runtime.ReceiverStatus.Values.Select(l => l.Snapshot()).ToList();
            }
            var downSince = links.Any(l => l.Connected) ? (DateTimeOffset?)null
                : links.Select(l => l.DisconnectedSince).Append(waitedFrom).Max();
            if (DateTimeOffset.UtcNow > deadline || DateTimeOffset.UtcNow - downSince > _options.DrainLinkGrace)
            {
                return missing;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(10), cancellationToken).ConfigureAwait(false);
        }
        return 0;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "replication {ReplicationId} fenced here: site {Site} takes over at epoch {Epoch}; writes are refused from now on")]
    private partial void LogFenced(string replicationId, string site, long epoch);

    [LoggerMessage(Level = LogLevel.Error, Message = "replication {ReplicationId} fenced here: site {Site} was promoted at epoch {Epoch}; writes are refused until this site is demoted and resynced")]
    private partial void LogSuperseded(string replicationId, string site, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "replication {ReplicationId}: the peer {Peer} could not be asked at start whether it took over ({Reason}); writes are accepted until it is heard from")]
    private partial void LogCheckInFailed(string replicationId, string peer, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "replication {ReplicationId}: the old primary {Peer} could not be fenced ({Reason}); promoting on the new epoch alone")]
    private partial void LogPeerNotFenced(string replicationId, string peer, string reason);
}
