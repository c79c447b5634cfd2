using CsiDriver.Engine;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Replication;

public sealed partial class ReplicationManager
{
    /// <summary>
    /// What a primary's shippers will ship: one target per link (the group, or each volume in
    /// per-volume mode). Throws, changing nothing, when shipping cannot start: no TLS material,
    /// or a volume missing.
    /// </summary>
    private List<ShipperTarget> PlanLinks(ReplicationRuntime runtime, ReplicationRecord record, SiteLinkTls? tls)
    {
        if (record.PeerAddress is null)
        {
            return [];
        }
        tls = PeerTls(tls ?? _options.DefaultTls ?? throw new ReplicationStateException(
            $"replication '{record.Id}': no site-link TLS material; start serve with --site-link-cert, --site-link-key and --site-link-ca, or pass it in the replication's secrets"));
        var peer = SiteLinkAddress.Parse(record.PeerAddress);
        var links = record.Mode == ReplicationModeKind.Group
            ? [(Volumes: record.VolumeIds, Consumer, Group: record.GroupName)]
            : record.VolumeIds.Select(v => (Volumes: (IReadOnlyList<string>)[v], Consumer: PerVolumeConsumer(v), Group: (string?)null)).ToList();
        var shipped = new ShippedReplication(this, runtime);
        return links.Select(link => new ShipperTarget(
            record.Id, record.Mode, link.Group, _engine.GetVolume(link.Volumes[0]).Group, link.Consumer, link.Volumes, peer, tls,
            _options.SiteId, _options.SiteAddress, shipped)).ToList();
    }

    /// <summary>Starts one shipper per target (callers hold the runtime's lock, and have
    /// recorded what the shippers ship).</summary>
    private void StartShippers(ReplicationRuntime runtime, List<ShipperTarget> targets)
    {
        var record = runtime.Record;
        foreach (var journal in record.VolumeIds.Select(v => _engine.GetVolume(v).Group).Distinct())
        {
            _engine.SetJournalRetentionBudget(journal, record.JournalBudgetBytes);
        }
        foreach (var target in targets)
        {
            var shipper = new JournalShipper(_engine, target, _options.Shipper, _loggerFactory.CreateLogger<JournalShipper>());
            runtime.Shippers.Add(shipper);
            shipper.Start();
        }
    }

    /// <summary>The material a client of the peer uses: checked against the configured server name.</summary>
    private SiteLinkTls PeerTls(SiteLinkTls tls) => tls with { ServerName = _options.SiteLinkServerName };

    /// <summary>
    /// Starts a recorded primary's shippers (at start-up, after a promotion). Whatever stops it
    /// becomes the replication's fault, reported as ERROR with the reason: one replication's
    /// state never stops the driver or the other replications (callers hold the runtime's lock).
    /// </summary>
    private void StartShippersOrFault(ReplicationRuntime runtime)
    {
        try
        {
            StartShippers(runtime, PlanLinks(runtime, runtime.Record, runtime.Tls));
            runtime.Fault = null;
        }
        catch (Exception e)
        {
            runtime.Fault = e.Message;
            LogCannotShip(runtime.Record.Id, e.Message);
        }
    }

    /// <summary>The manager's answers to one replication's shippers (see <see cref="IShippedReplication"/>).</summary>
    private sealed class ShippedReplication(ReplicationManager manager, ReplicationRuntime runtime) : IShippedReplication
    {
        public VolumeDescription Describe(string volumeId)
        {
            var volume = manager._engine.GetVolume(volumeId);
            var labels = manager.Rows.Find(volumeId);
            return new VolumeDescription(volumeId, volume.Size, labels?.Name ?? volumeId, labels?.AccessType ?? "", labels?.FsType ?? "");
        }

        public FailbackBase? FailbackBase()
        {
            lock (runtime.Lock)
            {
                var record = runtime.Record;
                return record.Role == ReplicationRole.Primary && record.PromotionSnapshots.Count > 0
                    ? new FailbackBase(record.CommonCutSequence, record.PromotionSnapshots)
                    : null;
            }
        }

        public long Epoch
        {
            get
            {
                lock (runtime.Lock)
                {
                    return runtime.Record.Epoch;
                }
            }
        }

        public void Superseded(long epoch, string siteId) => manager.Supersede(runtime, epoch, siteId, commonCut: 0);

        public void PeerAnswered(IReadOnlyList<string> volumeIds, PeerIds peer)
        {
            lock (runtime.Lock)
            {
                manager.SavePeers(runtime, volumeIds, peer);
            }
        }

        public void FailbackCompleted()
        {
            ReplicationRecord record;
            lock (runtime.Lock)
            {
                record = runtime.Record;
                if (record.PromotionSnapshots.Count == 0)
                {
                    return;
                }
                runtime.Record = record with { CommonCutSequence = 0, PromotionSnapshots = new Dictionary<string, string>() };
                manager._store.SaveReplication(runtime.Record);
            }
            manager.DeleteSnapshots(record.PromotionSnapshots.Values);
        }
    }

    /// <summary>Takes the shippers out of the runtime (callers hold its lock); they are stopped by <see cref="DisposeStoppedShippersAsync"/>.</summary>
    private static void StopShippersLocked(ReplicationRuntime runtime)
    {
        runtime.Stopping.AddRange(runtime.Shippers);
        runtime.Shippers.Clear();
    }

    private static async Task DisposeStoppedShippersAsync(ReplicationRuntime runtime)
    {
        List<JournalShipper> stopping;
        lock (runtime.Lock)
        {
            stopping = runtime.Stopping.ToList();
            runtime.Stopping.Clear();
        }
        foreach (var shipper in stopping)
        {
            await shipper.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stops shipping and ends receiving streams; new streams are refused until <see cref="ReplicationRuntime.Closing"/> is cleared.</summary>
    private async Task StopLinksAsync(ReplicationRuntime runtime)
    {
        List<Task> ended;
        lock (runtime.Lock)
        {
            runtime.Closing = true;
            StopShippersLocked(runtime);
            ended = runtime.Receivers.Values.Select(r => r.Ended).ToList();
            foreach (var lease in runtime.Receivers.Values)
            {
                lease.Supersede();
            }
        }
        await DisposeStoppedShippersAsync(runtime).ConfigureAwait(false);
        try
        {
            await Task.WhenAll(ended).WaitAsync(_options.ReceiverSilenceTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Each stream stops applying before its next message: a slow one is refused from now on anyway.
            LogStreamsLingering(runtime.Record.Id);
        }
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Level = LogLevel.Warning, Message = "replication {ReplicationId}: a receiving stream did not end in time; it is refused from now on")]
    private partial void LogStreamsLingering(string replicationId);

    /// <summary>
    /// Accepts a shipper's stream at this (secondary) site: learns the replication if new,
    /// creates the replicas, supersedes an older stream of the same link, and for a demoted old
    /// primary that asked for resync works out what it wrote after the common cut.
    /// </summary>
    /// <exception cref="ReplicationStateException">This site does not take the stream: it is the
    /// shipper itself, primary, demoted and not yet asked to resync, or its volumes are not replicas.</exception>
    /// <exception cref="StaleShipperException">The shipper's epoch is older than this site's.</exception>
    /// <exception cref="ReplicationFencedException">This site is a fenced primary (possibly just
    /// now, by the shipper's newer epoch).</exception>
    public async Task<ReceiverLease> AcceptStreamAsync(StreamRequest request, PeerIds shipper, CancellationToken cancellationToken)
    {
        if (request.SiteId == _options.SiteId)
        {
            throw new ReplicationStateException($"site '{request.SiteId}' would replicate to itself; check --site-id and the peer address");
        }
        var runtime = RuntimeFor(request);
        var linkKey = request.Mode == ReplicationModeKind.PerVolume ? request.Volumes[0].VolumeId : "";
        Task previous;
        ReceiverLease lease;
        ReplicationRecord known;
        lock (runtime.Lock)
        {
            known = runtime.Record;
        }
        if (request.Epoch < known.Epoch)
        {
            throw new StaleShipperException(request.ReplicationId, request.Epoch, known.Epoch);
        }
        if (known.Role == ReplicationRole.Primary && request.Epoch > known.Epoch)
        {
            // The shipper's site was promoted while this one could not be asked: stop writing here.
            Supersede(runtime, request.Epoch, request.SiteId, request.CommonCutSequence);
        }
        lock (runtime.Lock)
        {
            var record = runtime.Record;
            if (record.Role == ReplicationRole.Primary && record.Fence is { } fence)
            {
                throw new ReplicationFencedException(request.ReplicationId, fence);
            }
            if (runtime.Closing || record.Role == ReplicationRole.Primary)
            {
                throw new ReplicationStateException($"replication '{request.ReplicationId}' is primary at site '{_options.SiteId}': it does not accept a shipper (demote it and request resync first)");
            }
            if (record.SecondaryState == ReplicationState.Demoted)
            {
                throw new ReplicationStateException($"replication '{request.ReplicationId}' was demoted at site '{_options.SiteId}': it accepts the new primary once ResyncVolume is requested");
            }
            ReplicaVolumes.Ensure(_engine, Rows, request.Volumes, request.GroupName);
            var merged = record with
            {
                VolumeIds = record.VolumeIds.Union(request.Volumes.Select(v => v.VolumeId), StringComparer.Ordinal).ToArray(),
                PeerAddress = record.PeerAddress ?? request.SiteAddress,
                Epoch = Math.Max(record.Epoch, request.Epoch),
                Peers = WithPeer(record.Peers, request.Volumes.Select(v => v.VolumeId), shipper),
            };
            if (merged.VolumeIds.Count != record.VolumeIds.Count || merged.PeerAddress != record.PeerAddress || merged.Epoch != record.Epoch
                || !SamePeers(merged.Peers, record.Peers))
            {
                _store.SaveReplication(merged);
                runtime.Record = merged;
            }
            var journal = _engine.GetVolume(request.Volumes[0].VolumeId).Group;
            var divergence = record.SecondaryState == ReplicationState.AwaitingResync ? Divergence(journal, request) : null;
            if (!runtime.ReceiverStatus.TryGetValue(linkKey, out var status))
            {
                status = new LinkStatus();
                runtime.ReceiverStatus[linkKey] = status;
            }
            previous = runtime.Receivers.TryGetValue(linkKey, out var older) ? older.Ended : Task.CompletedTask;
            older?.Supersede();
            lease = new ReceiverLease(request.ReplicationId, linkKey, journal, request.Volumes.Select(v => v.VolumeId).ToHashSet(StringComparer.Ordinal), status, divergence, Release);
            runtime.Receivers[linkKey] = lease;
        }
        // Two streams of one link never apply at once.
        await previous.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        return lease;

        void Release(ReceiverLease ending)
        {
            lock (runtime.Lock)
            {
                if (runtime.Receivers.GetValueOrDefault(ending.LinkKey) == ending)
                {
                    runtime.Receivers.Remove(ending.LinkKey);
                }
            }
        }
    }

    /// <summary>The replication a stream is for; one this backup learns from it is recorded as a secondary.</summary>
    private ReplicationRuntime RuntimeFor(StreamRequest request)
    {
        lock (_replications)
        {
            if (_replications.TryGetValue(request.ReplicationId, out var runtime))
            {
                return runtime;
            }
            var record = new ReplicationRecord
            {
                Id = request.ReplicationId,
                VolumeIds = request.Volumes.Select(v => v.VolumeId).ToArray(),
                GroupName = request.GroupName,
                PeerAddress = request.SiteAddress,
                Mode = request.Mode,
                Role = ReplicationRole.Secondary,
                Epoch = request.Epoch,
            };
            _store.SaveReplication(record);
            runtime = new ReplicationRuntime(record) { Persisted = true };
            _replications[record.Id] = runtime;
            return runtime;
        }
    }

    /// <summary>
    /// What this demoted old primary wrote after the common cut: chunks of its journal records
    /// after it, plus the dirty chunks its shipper consumers tracked for records already
    /// released. When neither can tell (records released with no consumer holding the cut),
    /// everything must be shipped.
    /// </summary>
    private ChunkSetBuilder Divergence(ConsistencyGroup journal, StreamRequest request)
    {
        var divergence = new ChunkSetBuilder();
        var volumes = request.Volumes.Select(v => v.VolumeId).ToHashSet(StringComparer.Ordinal);
        var cut = request.CommonCutSequence;
        var status = _engine.GetJournalStatus(journal);
        var consumers = status.Consumers.Where(c => c.Name == Consumer || c.Name.StartsWith(Consumer + "/", StringComparison.Ordinal)).ToList();
        if (cut <= 0 || (cut + 1 < status.FirstSequence && !consumers.Any(c => c.Position <= cut)))
        {
            divergence.MarkEverything();
            return divergence;
        }
        foreach (var consumer in consumers)
        {
            foreach (var (volumeId, ranges) in _engine.GetDirtyChunks(journal, consumer.Name))
            {
                if (volumes.Contains(volumeId))
                {
                    divergence.Add(volumeId, ranges);
                }
            }
        }
        foreach (var record in _engine.ReadJournal(journal, Math.Max(cut + 1, status.FirstSequence), payloads: false))
        {
            divergence.Add(record, volumes);
        }
        return divergence;
    }

    /// <summary>A receiving stream completed a resync: a demoted old primary is now an ordinary backup.</summary>
    internal void OnReceiverResyncCompleted(ReceiverLease lease)
    {
        var runtime = Get(lease.ReplicationId);
        ReplicationRecord record;
        lock (runtime.Lock)
        {
            record = runtime.Record;
            if (record.SecondaryState != ReplicationState.AwaitingResync)
            {
                return;
            }
            runtime.Record = record with { SecondaryState = ReplicationState.Waiting, ProtectionSnapshots = new Dictionary<string, string>() };
            _store.SaveReplication(runtime.Record);
        }
        foreach (var volumeId in record.VolumeIds)
        {
            if (_engine.FindVolume(volumeId) is { } volume)
            {
                // Its own shipping days are over: nothing needs its journal kept any more.
                _engine.RemoveJournalConsumer(volume.Group, Consumer);
                _engine.RemoveJournalConsumer(volume.Group, PerVolumeConsumer(volumeId));
            }
        }
        DeleteSnapshots(record.ProtectionSnapshots.Values);
    }
}
