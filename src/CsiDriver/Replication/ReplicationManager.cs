using CsiDriver.Engine;
using CsiDriver.State;
using Formation.SiteLink.V1;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Replication;

/// <summary>
/// Every replication of this site, as the csi-addons Replication service drives them. At a
/// primary it runs one shipper per link; at a secondary it accepts the shipper's streams
/// (<see cref="SiteLinkService"/>). Transitions of one replication run one at a time (a second
/// one meanwhile gets <see cref="ReplicationBusyException"/>); each is idempotent and persists
/// its record (<see cref="ReplicationCatalog"/>) before it returns.
/// </summary>
public sealed partial class ReplicationManager : IAsyncDisposable
{
    /// <summary>Consumer name of a group link; per-volume links use "replication/&lt;volume&gt;".</summary>
    public const string Consumer = "replication";

    private readonly StorageEngine _engine;
    private readonly ReplicationManagerOptions _options;
    private readonly ReplicationCatalog _catalog;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _log;
    private readonly Dictionary<string, ReplicationRuntime> _replications = new(StringComparer.Ordinal);

    public ReplicationManager(StorageEngine engine, StateStore? state, ReplicationManagerOptions options, ILoggerFactory loggerFactory)
    {
        _engine = engine;
        State = state;
        _options = options;
        _loggerFactory = loggerFactory;
        _log = loggerFactory.CreateLogger<ReplicationManager>();
        _catalog = ReplicationCatalog.Open(options.DataDirectory);
        foreach (var record in _catalog.All)
        {
            _replications[record.Id] = new ReplicationRuntime(record) { Tls = options.DefaultTls };
        }
        // A resync's source snapshot lives only as long as its session; one a crash left is garbage.
        DeleteSnapshots(engine.Snapshots.Where(s => s.Purpose == SnapshotPurpose.ResyncSource).Select(s => s.Id));
    }

    internal const string ResyncSnapshotPrefix = ReplicationSnapshots.Prefix + "sync-";

    public string SiteId => _options.SiteId;

    internal TimeSpan ReceiverSilenceTimeout => _options.ReceiverSilenceTimeout;

    /// <summary>The plugin's state store, where replica volumes get their rows (null in engine-only use).</summary>
    public StateStore? State { get; }

    /// <summary>Restarts shipping for every replication this site is primary of (after a restart).</summary>
    public void Start()
    {
        foreach (var runtime in Runtimes())
        {
            lock (runtime.Lock)
            {
                if (runtime.Record.Role == ReplicationRole.Primary)
                {
                    StartShippers(runtime);
                }
            }
        }
    }

    /// <summary>
    /// Starts replicating <paramref name="spec"/>'s volumes. Where they exist here and are
    /// writable this site is the primary and starts shipping; where none exists this site is the
    /// backup and waits for the shipper. Repeating it is harmless; a repeat may change the peer
    /// address or TLS material, not the volumes or mode.
    /// </summary>
    public async Task EnableAsync(ReplicationSpec spec, CancellationToken cancellationToken)
    {
        ValidateSpec(spec);
        var runtime = GetOrAddRuntime(spec);
        using var gate = await EnterAsync(runtime, cancellationToken).ConfigureAwait(false);
        lock (runtime.Lock)
        {
            var record = runtime.Record;
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
            var tlsChanged = spec.Tls is not null && spec.Tls != runtime.Tls;
            var peerChanged = record.PeerAddress != spec.PeerAddress;
            runtime.Tls = spec.Tls ?? runtime.Tls ?? _options.DefaultTls;
            if (peerChanged || record.VolumeIds.Count != runtime.Record.VolumeIds.Count || record.Mode != runtime.Record.Mode
                || record.GroupName != runtime.Record.GroupName || record.JournalBudgetBytes != spec.JournalBudgetBytes)
            {
                runtime.Record = record with { PeerAddress = spec.PeerAddress, JournalBudgetBytes = spec.JournalBudgetBytes };
                _catalog.Save(runtime.Record);
            }
            if (runtime.Record.Role == ReplicationRole.Primary && (peerChanged || tlsChanged))
            {
                StopShippersLocked(runtime);
            }
            if (runtime.Record.Role == ReplicationRole.Primary && runtime.Shippers.Count == 0)
            {
                StartShippers(runtime);
                LogEnabled(spec.ReplicationId, "primary", spec.PeerAddress);
            }
        }
        await DisposeStoppedShippersAsync(runtime).ConfigureAwait(false);
    }

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
        _catalog.Remove(replicationId);
        lock (_replications)
        {
            _replications.Remove(replicationId);
        }
        LogDisabled(replicationId);
    }

    public IReadOnlyList<ReplicationInfo> All => Runtimes().Select(Describe).ToList();

    public ReplicationInfo GetInfo(string replicationId) => Describe(Get(replicationId));

    /// <summary>What GetRole answers a peer about this site.</summary>
    public Role RoleOf(string replicationId)
    {
        if (Find(replicationId) is not { } runtime)
        {
            return Role.None;
        }
        lock (runtime.Lock)
        {
            return runtime.Record.Role == ReplicationRole.Primary ? Role.Primary : Role.Secondary;
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

    /// <summary>A new replication's role comes from its volumes: present and writable here → primary; absent → secondary.</summary>
    private ReplicationRuntime GetOrAddRuntime(ReplicationSpec spec)
    {
        lock (_replications)
        {
            if (_replications.TryGetValue(spec.ReplicationId, out var existing))
            {
                return existing;
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
            var record = new ReplicationRecord
            {
                Id = spec.ReplicationId,
                VolumeIds = spec.VolumeIds.ToArray(),
                GroupName = spec.GroupName,
                PeerAddress = spec.PeerAddress,
                Mode = spec.Mode,
                JournalBudgetBytes = spec.JournalBudgetBytes,
                Role = role,
            };
            _catalog.Save(record);
            var runtime = new ReplicationRuntime(record) { Tls = spec.Tls ?? _options.DefaultTls };
            _replications[spec.ReplicationId] = runtime;
            return runtime;
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
