using CsiDriver.Engine;
using CsiDriver.Rpc;
using Formation.SiteLink.V1;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Replication;

public sealed partial class ReplicationManager
{
    /// <summary>Starts one shipper per link of a primary (callers hold the runtime's lock).</summary>
    private void StartShippers(ReplicationRuntime runtime)
    {
        var record = runtime.Record;
        if (runtime.Shippers.Count > 0 || record.PeerAddress is null)
        {
            return;
        }
        var tls = runtime.Tls ?? throw new ReplicationStateException(
            $"replication '{record.Id}': no site-link TLS material; start serve with --site-link-cert, --site-link-key and --site-link-ca, or pass it in the replication's secrets");
        var peer = SiteLinkAddress.Parse(record.PeerAddress);
        var links = record.Mode == ReplicationModeKind.Group
            ? [(Volumes: record.VolumeIds, Consumer, Group: record.GroupName)]
            : record.VolumeIds.Select(v => (Volumes: (IReadOnlyList<string>)[v], Consumer: PerVolumeConsumer(v), Group: (string?)null)).ToList();
        foreach (var journal in record.VolumeIds.Select(v => _engine.GetVolume(v).Group).Distinct())
        {
            _engine.SetJournalRetentionBudget(journal, record.JournalBudgetBytes);
        }
        foreach (var (volumes, consumer, group) in links)
        {
            var target = new ShipperTarget(
                record.Id, record.Mode, group, _engine.GetVolume(volumes[0]).Group, consumer, volumes, peer, tls,
                _options.SiteId, _options.SiteAddress, Describe, () => FailbackBaseOf(runtime), () => OnFailbackCompleted(runtime));
            var shipper = new JournalShipper(_engine, target, _options.Shipper, _loggerFactory.CreateLogger<JournalShipper>());
            runtime.Shippers.Add(shipper);
            shipper.Start();
        }
    }

    private ReplicaVolume Describe(string volumeId)
    {
        var volume = _engine.GetVolume(volumeId);
        var row = State?.FindVolume(volumeId);
        return new ReplicaVolume
        {
            VolumeId = volumeId,
            SizeBytes = volume.Size,
            Name = row?.Name ?? volumeId,
            AccessType = row?.AccessType.ToString() ?? "",
            FsType = row?.FsType ?? "",
        };
    }

    private static FailbackBase? FailbackBaseOf(ReplicationRuntime runtime)
    {
        lock (runtime.Lock)
        {
            var record = runtime.Record;
            return record.Role == ReplicationRole.Primary && record.PromotionSnapshots.Count > 0
                ? new FailbackBase(record.CommonCutSequence, record.PromotionSnapshots)
                : null;
        }
    }

    /// <summary>The old primary holds this site's image again: the promotion snapshots have done their work.</summary>
    private void OnFailbackCompleted(ReplicationRuntime runtime)
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
            _catalog.Save(runtime.Record);
        }
        DeleteSnapshots(record.PromotionSnapshots.Values);
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
    public async Task<ReceiverLease> AcceptStreamAsync(Open open, CancellationToken cancellationToken)
    {
        if (open.SiteId == _options.SiteId)
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"site '{open.SiteId}' would replicate to itself; check --site-id and the peer address");
        }
        var runtime = RuntimeForOpen(open);
        var linkKey = open.Mode == ReplicationMode.PerVolume ? open.Volumes[0].VolumeId : "";
        var groupName = open.GroupName.Length == 0 ? null : open.GroupName;
        Task previous;
        ReceiverLease lease;
        lock (runtime.Lock)
        {
            var record = runtime.Record;
            if (runtime.Closing || record.Role == ReplicationRole.Primary)
            {
                throw new RpcException(StatusCode.FailedPrecondition, $"replication '{open.ReplicationId}' is primary at site '{_options.SiteId}': it does not accept a shipper (demote it and request resync first)");
            }
            if (record.SecondaryState == ReplicationState.Demoted)
            {
                throw new RpcException(StatusCode.FailedPrecondition, $"replication '{open.ReplicationId}' was demoted at site '{_options.SiteId}': it accepts the new primary once ResyncVolume is requested");
            }
            ReplicaVolumes.Ensure(_engine, State, open.Volumes, groupName, _options.Clock);
            var merged = record with
            {
                VolumeIds = record.VolumeIds.Union(open.Volumes.Select(v => v.VolumeId), StringComparer.Ordinal).ToArray(),
                PeerAddress = record.PeerAddress ?? (open.SiteAddress.Length > 0 ? open.SiteAddress : null),
            };
            if (merged.VolumeIds.Count != record.VolumeIds.Count || merged.PeerAddress != record.PeerAddress)
            {
                runtime.Record = merged;
                _catalog.Save(merged);
            }
            var journal = _engine.GetVolume(open.Volumes[0].VolumeId).Group;
            var divergence = record.SecondaryState == ReplicationState.AwaitingResync ? Divergence(journal, open) : null;
            if (!runtime.ReceiverStatus.TryGetValue(linkKey, out var status))
            {
                status = new LinkStatus();
                runtime.ReceiverStatus[linkKey] = status;
            }
            previous = runtime.Receivers.TryGetValue(linkKey, out var older) ? older.Ended : Task.CompletedTask;
            older?.Supersede();
            lease = new ReceiverLease(open.ReplicationId, linkKey, journal, open.Volumes.Select(v => v.VolumeId).ToHashSet(StringComparer.Ordinal), status, divergence, Release);
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

    private ReplicationRuntime RuntimeForOpen(Open open)
    {
        lock (_replications)
        {
            if (_replications.TryGetValue(open.ReplicationId, out var runtime))
            {
                return runtime;
            }
            var record = new ReplicationRecord
            {
                Id = open.ReplicationId,
                VolumeIds = open.Volumes.Select(v => v.VolumeId).ToArray(),
                GroupName = open.GroupName.Length == 0 ? null : open.GroupName,
                PeerAddress = open.SiteAddress.Length == 0 ? null : open.SiteAddress,
                Mode = SiteLinkProtocol.FromWire(open.Mode),
                Role = ReplicationRole.Secondary,
            };
            _catalog.Save(record);
            runtime = new ReplicationRuntime(record) { Tls = _options.DefaultTls };
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
    private ChunkSetBuilder Divergence(ConsistencyGroup journal, Open open)
    {
        var divergence = new ChunkSetBuilder();
        var volumes = open.Volumes.Select(v => v.VolumeId).ToHashSet(StringComparer.Ordinal);
        var cut = open.CommonCutSequence;
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
        foreach (var record in _engine.ReadJournal(journal, Math.Max(cut + 1, status.FirstSequence)))
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
            _catalog.Save(runtime.Record);
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
