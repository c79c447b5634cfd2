using CsiDriver.Engine;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Replication;

/// <summary>
/// Every replication of this site, as the csi-addons Replication service drives them. At a
/// primary it runs one shipper per link; at a secondary it accepts the shipper's streams
/// (<see cref="SiteLinkService"/>). Transitions of one replication run one at a time (a second
/// one meanwhile gets <see cref="ReplicationBusyException"/>); each is idempotent and persists
/// its record (<see cref="IReplicationStore"/>) before it returns. A replication that cannot run
/// (no TLS to ship with, a volume gone) carries its fault and reports ERROR with it; it never
/// stops the manager, or another replication, from starting.
/// </summary>
public sealed partial class ReplicationManager : IAsyncDisposable
{
    /// <summary>Consumer name of a group link; per-volume links use "replication/&lt;volume&gt;".</summary>
    public const string Consumer = "replication";

    private readonly StorageEngine _engine;
    private readonly ReplicationManagerOptions _options;
    private readonly IReplicationStore _store;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _log;
    private readonly Dictionary<string, ReplicationRuntime> _replications = new(StringComparer.Ordinal);

    public ReplicationManager(StorageEngine engine, IReplicationStore store, IVolumeRows rows, ReplicationManagerOptions options, ILoggerFactory loggerFactory)
    {
        _engine = engine;
        Rows = rows;
        _options = options;
        _loggerFactory = loggerFactory;
        _log = loggerFactory.CreateLogger<ReplicationManager>();
        _store = store;
        foreach (var record in store.LoadReplications())
        {
            var runtime = Revive(record);
            _replications[record.Id] = runtime;
            try
            {
                // Before any front end serves a write (see ReplicationManager.Fencing.cs).
                ApplyRole(record);
            }
            catch (EngineException e)
            {
                runtime.Fault ??= $"replication '{record.Id}': its volumes do not take its role: {e.Message}";
            }
        }
        // A resync's source snapshot lives only as long as its session; one a crash left is garbage.
        DeleteSnapshots(engine.Snapshots.Where(s => s.Purpose == SnapshotPurpose.ResyncSource).Select(s => s.Id));
    }

    internal const string ResyncSnapshotPrefix = ReplicationSnapshots.Prefix + "sync-";

    public string SiteId => _options.SiteId;

    /// <summary>See <see cref="ReplicationManagerOptions.OwnerTag"/>.</summary>
    public string? OwnerTag => _options.OwnerTag;

    internal TimeSpan ReceiverSilenceTimeout => _options.ReceiverSilenceTimeout;

    /// <summary>The plugin's rows of volumes and groups, where replicas get theirs.</summary>
    internal IVolumeRows Rows { get; }

    /// <summary>Restarts shipping for every replication this site is primary of, or was demoted
    /// from and still ships what it holds (after a restart). One that cannot ship keeps its
    /// fault; the others start all the same.</summary>
    public void Start()
    {
        foreach (var runtime in Runtimes())
        {
            lock (runtime.Lock)
            {
                if ((runtime.Record.Role == ReplicationRole.Primary || runtime.Record.SecondaryState == ReplicationState.Demoted) && runtime.Fault is null)
                {
                    StartShippersOrFault(runtime);
                }
            }
        }
    }

    /// <summary>
    /// Starts replicating <paramref name="spec"/>'s volumes. Where they exist here and are
    /// writable this site is the primary and starts shipping; where none exists this site is the
    /// backup and waits for the shipper. Repeating it is harmless; a repeat may change the peer
    /// address or TLS material, not the volumes, mode or parameters. An enable that fails (no TLS
    /// to ship with, a volume missing) changes and records nothing.
    /// </summary>
    public async Task EnableAsync(ReplicationSpec spec, CancellationToken cancellationToken)
    {
        ValidateSpec(spec);
        var (runtime, added) = GetOrAddRuntime(spec);
        try
        {
            using var gate = await EnterAsync(runtime, cancellationToken).ConfigureAwait(false);
            lock (runtime.Lock)
            {
                var record = Enabled(runtime.Record, spec, added);
                var tls = spec.Tls ?? runtime.Tls;
                var relink = record.PeerAddress != runtime.Record.PeerAddress || !Equals(tls, runtime.Tls) || runtime.Shippers.Count == 0;
                var targets = record.Role == ReplicationRole.Primary && relink ? PlanLinks(runtime, record, tls) : null;
                // Recorded before shipping starts: a crash between leaves a record the next start ships from.
                if (added || record != runtime.Record)
                {
                    _store.SaveReplication(record);
                }
                runtime.Record = record;
                runtime.Tls = tls;
                runtime.Persisted = true;
                if (targets is not null)
                {
                    StopShippersLocked(runtime);
                    StartShippers(runtime, targets);
                    runtime.Fault = null;
                    LogEnabled(spec.ReplicationId, "primary", spec.PeerAddress);
                }
            }
        }
        catch when (added && !runtime.Persisted)
        {
            Forget(runtime);
            throw;
        }
        await DisposeStoppedShippersAsync(runtime).ConfigureAwait(false);
    }

    /// <summary>
    /// The record an enable leaves: the peer, budget and TLS it gives; at a backup that learnt
    /// the replication from the shipper first, its volumes and group as well. Enabled otherwise
    /// before (volumes, mode, group, parameters): a conflict, so nothing changes.
    /// </summary>
    private static ReplicationRecord Enabled(ReplicationRecord record, ReplicationSpec spec, bool added)
    {
        if (!added && record.Parameters is { } enabledWith && spec.Parameters is { } asked && !SameEntries(enabledWith, asked))
        {
            throw new ReplicationConflictException(
                $"replication '{spec.ReplicationId}' is already enabled with parameters {Describe(enabledWith)}; disable it before enabling it with {Describe(asked)}");
        }
        if (record.Role == ReplicationRole.Secondary)
        {
            // A backup may have learnt the replication from the shipper's Open first.
            record = record with { VolumeIds = record.VolumeIds.Union(spec.VolumeIds, StringComparer.Ordinal).ToArray(), Mode = spec.Mode, GroupName = spec.GroupName ?? record.GroupName };
        }
        if (!record.VolumeIds.Order(StringComparer.Ordinal).SequenceEqual(spec.VolumeIds.Order(StringComparer.Ordinal), StringComparer.Ordinal)
            && record.Role == ReplicationRole.Primary
            || record.Mode != spec.Mode || record.GroupName != spec.GroupName)
        {
            throw new ReplicationStateException(
                $"replication '{spec.ReplicationId}' is enabled for volumes [{string.Join(", ", record.VolumeIds)}] in {record.Mode} mode; disable it before enabling it differently");
        }
        return record with
        {
            PeerAddress = spec.PeerAddress,
            JournalBudgetBytes = spec.JournalBudgetBytes,
            Parameters = record.Parameters ?? spec.Parameters,
            Tls = spec.Tls?.Pem ?? record.Tls,
        };
    }

    private static bool SameEntries(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
        a.Count == b.Count && a.All(entry => b.TryGetValue(entry.Key, out var value) && value == entry.Value);

    private static string Describe(IReadOnlyDictionary<string, string> parameters) =>
        "{" + string.Join(", ", parameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}")) + "}";

    /// <summary>Stops replicating: shipping stops, receiving streams end, the journal consumers
    /// and replication snapshots go. The volumes (and replicas) stay. Gone already: succeeds.</summary>
    public async Task DisableAsync(string replicationId, CancellationToken cancellationToken)
    {
        if (Find(replicationId) is not { } runtime)
        {
            return;
        }
        using var gate = await EnterAsync(runtime, cancellationToken).ConfigureAwait(false);
        await StopLinksAsync(runtime).ConfigureAwait(false);
        ReplicationRecord record;
        lock (runtime.Lock)
        {
            record = runtime.Record;
        }
        foreach (var volumeId in record.VolumeIds)
        {
            if (_engine.FindVolume(volumeId) is { } volume)
            {
                _engine.RemoveJournalConsumer(volume.Group, Consumer);
                _engine.RemoveJournalConsumer(volume.Group, PerVolumeConsumer(volumeId));
            }
        }
        DeleteSnapshots(record.PromotionSnapshots.Values.Concat(record.ProtectionSnapshots.Values));
        _store.RemoveReplication(replicationId);
        Forget(runtime);
        LogDisabled(replicationId);
    }

    public IReadOnlyList<ReplicationInfo> All => Runtimes().Select(Describe).ToList();

    public ReplicationInfo GetInfo(string replicationId) => Describe(Get(replicationId));

    /// <summary>
    /// The ids this replication and its volumes have at the other site: at a primary, as the
    /// receiver of each link answered; at a backup, as the shipping site's Open named them; as
    /// the record keeps them, so also after a restart while the other site is down. All or
    /// nothing: until every link has been heard from once,
    /// <see cref="ReplicationDestinationUnknownException"/>.
    /// </summary>
    public (string ReplicationId, IReadOnlyDictionary<string, string> VolumeIds) DestinationOf(string replicationId)
    {
        var runtime = Get(replicationId);
        lock (runtime.Lock)
        {
            var record = runtime.Record;
            var peers = new Dictionary<string, PeerIds>(StringComparer.Ordinal);
            foreach (var volumeId in record.VolumeIds)
            {
                peers[volumeId] = record.Peers.GetValueOrDefault(volumeId) ?? throw new ReplicationDestinationUnknownException(replicationId);
            }
            return (peers[record.VolumeIds[0]].Of(record.Id), peers.ToDictionary(p => p.Key, p => p.Value.Of(p.Key), StringComparer.Ordinal));
        }
    }

    /// <summary>Records how <paramref name="volumeIds"/> read at the other site, when that changes
    /// (a reconnect to the same receiver writes nothing). Not once the replication is closing: a
    /// disable may have removed its record, which this must not bring back. Callers hold the
    /// runtime's lock.</summary>
    private void SavePeers(ReplicationRuntime runtime, IReadOnlyList<string> volumeIds, PeerIds peer)
    {
        var record = runtime.Record;
        var peers = WithPeer(record.Peers, volumeIds, peer);
        if (runtime.Closing || SamePeers(peers, record.Peers))
        {
            return;
        }
        var updated = record with { Peers = peers };
        _store.SaveReplication(updated);
        runtime.Record = updated;
    }

    private static Dictionary<string, PeerIds> WithPeer(IReadOnlyDictionary<string, PeerIds> peers, IEnumerable<string> volumeIds, PeerIds peer)
    {
        var updated = new Dictionary<string, PeerIds>(peers, StringComparer.Ordinal);
        foreach (var volumeId in volumeIds)
        {
            updated[volumeId] = peer;
        }
        return updated;
    }

    private static bool SamePeers(IReadOnlyDictionary<string, PeerIds> a, IReadOnlyDictionary<string, PeerIds> b) =>
        a.Count == b.Count && a.All(p => b.TryGetValue(p.Key, out var other) && other == p.Value);

    /// <summary>Whether this site takes part in a replication of that id (enabled here, or
    /// learnt from a main site's shipper at this backup).</summary>
    public bool IsReplicated(string replicationId) => Find(replicationId) is not null;

    /// <summary>What GetRole answers a peer about this site: the replication's role and epoch
    /// here, null where this site knows no replication of that id.</summary>
    public (ReplicationRole Role, long Epoch)? RoleOf(string replicationId)
    {
        if (Find(replicationId) is not { } runtime)
        {
            return null;
        }
        lock (runtime.Lock)
        {
            return (runtime.Record.Role, runtime.Record.Epoch);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var runtime in Runtimes())
        {
            await StopLinksAsync(runtime).ConfigureAwait(false);
        }
    }

    internal static string PerVolumeConsumer(string volumeId) => $"{Consumer}/{volumeId}";

    private static void ValidateSpec(ReplicationSpec spec)
    {
        if (spec.ReplicationId.Length == 0 || spec.VolumeIds.Count == 0)
        {
            throw new ArgumentException("a replication needs an id and at least one volume", nameof(spec));
        }
        if (spec.VolumeIds.Distinct(StringComparer.Ordinal).Count() != spec.VolumeIds.Count)
        {
            throw new ArgumentException("the replication lists a volume twice", nameof(spec));
        }
        _ = SiteLinkAddress.Parse(spec.PeerAddress);
    }

    /// <summary>The replication's runtime, or a new one (not yet recorded, see
    /// <see cref="ReplicationRuntime.Persisted"/>) whose role comes from its volumes: present
    /// and writable here → primary; absent → secondary.</summary>
    private (ReplicationRuntime Runtime, bool Added) GetOrAddRuntime(ReplicationSpec spec)
    {
        lock (_replications)
        {
            if (_replications.TryGetValue(spec.ReplicationId, out var existing))
            {
                return (existing, false);
            }
            var volumes = spec.VolumeIds.Select(_engine.FindVolume).ToList();
            ReplicationRole role;
            if (volumes.All(v => v is null))
            {
                role = ReplicationRole.Secondary;
            }
            else
            {
                var present = volumes.Select((v, i) => v ?? throw new VolumeNotFoundException(spec.VolumeIds[i])).ToList();
                if (spec.Mode == ReplicationModeKind.Group && present.Select(v => v.Group).Distinct().Count() != 1)
                {
                    throw new ReplicationStateException(
                        $"volumes [{string.Join(", ", spec.VolumeIds)}] are not in one consistency group; put them in a volume group first (or use per-volume mode)");
                }
                role = present.All(v => v.IsReadOnly) ? ReplicationRole.Secondary : ReplicationRole.Primary;
            }
            // The main site's first primary is epoch 1; a backup learns the epoch from the shipper.
            var runtime = new ReplicationRuntime(new ReplicationRecord
            {
                Id = spec.ReplicationId, VolumeIds = spec.VolumeIds.ToArray(), GroupName = spec.GroupName, Mode = spec.Mode, Role = role,
                Epoch = role == ReplicationRole.Primary ? 1 : 0,
            });
            _replications[spec.ReplicationId] = runtime;
            return (runtime, true);
        }
    }

    /// <summary>A recorded replication as a runtime, its stored TLS loaded: material that no
    /// longer loads is its fault, not the manager's.</summary>
    private static ReplicationRuntime Revive(ReplicationRecord record)
    {
        var runtime = new ReplicationRuntime(record) { Persisted = true };
        if (record.Tls is { } pem)
        {
            try
            {
                runtime.Tls = SiteLinkTls.FromPem(pem);
            }
            catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                runtime.Fault = $"replication '{record.Id}': its stored site-link TLS does not load ({e.Message}); enable it again with its secrets";
            }
        }
        return runtime;
    }

    /// <summary>Drops a runtime that is disabled, or whose first enable failed before it was recorded.</summary>
    private void Forget(ReplicationRuntime runtime)
    {
        lock (_replications)
        {
            if (_replications.GetValueOrDefault(runtime.Record.Id) == runtime)
            {
                _replications.Remove(runtime.Record.Id);
            }
        }
    }

    private ReplicationRuntime? Find(string replicationId)
    {
        lock (_replications)
        {
            return _replications.GetValueOrDefault(replicationId);
        }
    }

    private ReplicationRuntime Get(string replicationId) => Find(replicationId) ?? throw new ReplicationNotFoundException(replicationId);

    private List<ReplicationRuntime> Runtimes()
    {
        lock (_replications)
        {
            return _replications.Values.ToList();
        }
    }

    private static async Task<IDisposable> EnterAsync(ReplicationRuntime runtime, CancellationToken cancellationToken)
    {
        if (!await runtime.Gate.WaitAsync(0, cancellationToken).ConfigureAwait(false))
        {
            throw new ReplicationBusyException(runtime.Record.Id);
        }
        return new GateRelease(runtime.Gate);
    }

    private void DeleteSnapshots(IEnumerable<string> snapshotIds)
    {
        foreach (var snapshotId in snapshotIds)
        {
            _engine.DeleteSnapshot(snapshotId);
        }
    }

    private sealed class GateRelease(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "replication {ReplicationId} enabled here as {Role}; peer {Peer}")]
    private partial void LogEnabled(string replicationId, string role, string peer);

    [LoggerMessage(Level = LogLevel.Information, Message = "replication {ReplicationId} disabled")]
    private partial void LogDisabled(string replicationId);
}
