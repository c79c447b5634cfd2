using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Replication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CsiDriver.Engine;

/// <summary>
/// The engine's entry point: every volume, snapshot and consistency-group journal under one data
/// directory (formats in docs/formats.md):
/// <code>
/// catalog                  structure (volumes, snapshots, layers, groups)
/// checkpoint               per journal: the sequence the durable data files reflect
/// layers/NNNNNNNN.data     a layer's sparse data file     layers/NNNNNNNN.map  its chunk map
/// journals/NAME/journal-NNNNNN.seg                        a group's journal segments
/// </code>
/// A thin façade: each operation belongs to the component that owns the state it changes, and
/// the lock order follows from which component calls which (CONTRIBUTING.md, "The engine"):
/// <list type="bullet">
/// <item><see cref="Catalog"/>: volumes, snapshots, layers, groups; the structure lock.</item>
/// <item><see cref="Checkpointer"/>: the cut, writeback, the checkpoint file, the background loop; the checkpoint lock.</item>
/// <item><see cref="JournalConsumers"/>: journal readers, retention, dirty-chunk sets; a leaf lock.</item>
/// <item><see cref="ReplicaApplier"/>: replica groups' batches, state and resync; no lock of its own.</item>
/// </list>
/// The data path (<see cref="Volume"/>) takes its group's gate and its volume's apply lock only.
/// </summary>
public sealed class StorageEngine : IDisposable
{
    private readonly Catalog _catalog;
    private readonly Checkpointer _checkpointer;
    private readonly JournalConsumers _consumers;
    private readonly ReplicaApplier _replicas;
    private readonly ILogger _logger;
    private bool _disposed;

    private StorageEngine(string dataDirectory, Catalog catalog, Checkpointer checkpointer, EngineOptions options, ILogger logger, IReadOnlyList<JournalRecoveryReport> recovery)
    {
        DataDirectory = dataDirectory;
        Recovery = recovery;
        _catalog = catalog;
        _checkpointer = checkpointer;
        _logger = logger;
        _consumers = new JournalConsumers(catalog, checkpointer, options, logger, e => RetentionBudgetExceeded?.Invoke(this, e));
        _replicas = new ReplicaApplier(catalog, checkpointer);
        checkpointer.Bind(catalog, _consumers);
    }

    /// <summary>
    /// Opens (creating if needed) the engine's state under <paramref name="dataDirectory"/>:
    /// recovers the catalog and every journal (<see cref="Catalog.Open"/>), the journal consumers
    /// the last checkpoint recorded, checkpoints what was replayed (deferred when there is no
    /// space: the journals keep it), and removes protection a crash left behind.
    /// </summary>
    /// <exception cref="CorruptionException">The catalog, the checkpoint or a chunk map is unreadable.</exception>
    public static StorageEngine Open(string dataDirectory, EngineOptions? options = null)
    {
        dataDirectory = Path.GetFullPath(dataDirectory);
        options ??= new EngineOptions();
        var logger = options.LoggerFactory?.CreateLogger<StorageEngine>() ?? NullLogger<StorageEngine>.Instance;
        var checkpointer = new Checkpointer(dataDirectory, options, logger);
        var checkpoint = checkpointer.Read();
        var catalog = Catalog.Open(dataDirectory, options, checkpointer, checkpoint, logger, out var recovery);
        try
        {
            var engine = new StorageEngine(dataDirectory, catalog, checkpointer, options, logger, recovery);
            engine._consumers.Restore(checkpoint);
            engine.CheckpointUnlessFull();
            engine._replicas.RemoveStaleProtection();
            checkpointer.Start();
            return engine;
        }
        catch
        {
            catalog.Close();
            throw;
        }
    }

    public string DataDirectory { get; }

    /// <summary>What recovery found in each journal when the engine opened.</summary>
    public IReadOnlyList<JournalRecoveryReport> Recovery { get; }

    /// <summary>Bytes that can still be written: the free space of the file system holding the
    /// data directory, less what the journals have set aside to roll (see GroupJournal.Space.cs).</summary>
    public long AvailableBytes => Math.Max(0, new DriveInfo(DataDirectory).AvailableFreeSpace - _catalog.JournalReservation);

    public IReadOnlyCollection<Volume> Volumes => _catalog.Volumes;

    public Volume? FindVolume(string volumeId) => _catalog.FindVolume(volumeId);

    public Volume GetVolume(string volumeId) => _catalog.GetVolume(volumeId);

    /// <inheritdoc cref="Catalog.CreateVolume"/>
    public Volume CreateVolume(string volumeId, long capacityBytes, string? consistencyGroup = null) =>
        _catalog.CreateVolume(volumeId, capacityBytes, consistencyGroup);

    /// <inheritdoc cref="Catalog.DeleteVolume"/>
    public bool DeleteVolume(string volumeId) => _catalog.DeleteVolume(volumeId);

    /// <inheritdoc cref="Catalog.ExpandVolume"/>
    public void ExpandVolume(string volumeId, long newCapacityBytes) => _catalog.ExpandVolume(volumeId, newCapacityBytes);

    /// <inheritdoc cref="Catalog.SetReadOnly"/>
    public void SetVolumeReadOnly(string volumeId, bool readOnly, string? reason = null) => _catalog.SetReadOnly(volumeId, readOnly, reason);

    /// <inheritdoc cref="Catalog.MoveVolume"/>
    public void MoveVolume(string volumeId, string? consistencyGroup) => _catalog.MoveVolume(volumeId, consistencyGroup);

    public IReadOnlyCollection<Snapshot> Snapshots => _catalog.Snapshots;

    public Snapshot? FindSnapshot(string snapshotId) => _catalog.FindSnapshot(snapshotId);

    /// <summary>Takes a snapshot of one volume (see <see cref="CreateGroupSnapshot(IReadOnlyList{ValueTuple{string, string}}, out GroupCut, SnapshotPurpose)"/>).</summary>
    public Snapshot CreateSnapshot(string volumeId, string snapshotId, SnapshotPurpose purpose = SnapshotPurpose.User) =>
        _catalog.CreateGroupSnapshot([(volumeId, snapshotId)], purpose, out _)[0];

    public IReadOnlyList<Snapshot> CreateGroupSnapshot(IReadOnlyList<(string VolumeId, string SnapshotId)> members, SnapshotPurpose purpose = SnapshotPurpose.User) =>
        _catalog.CreateGroupSnapshot(members, purpose, out _);

    /// <inheritdoc cref="Catalog.CreateGroupSnapshot"/>
    public IReadOnlyList<Snapshot> CreateGroupSnapshot(IReadOnlyList<(string VolumeId, string SnapshotId)> members, out GroupCut cut, SnapshotPurpose purpose = SnapshotPurpose.User) =>
        _catalog.CreateGroupSnapshot(members, purpose, out cut);

    /// <inheritdoc cref="Catalog.DeleteSnapshot"/>
    public bool DeleteSnapshot(string snapshotId) => _catalog.DeleteSnapshot(snapshotId);

    /// <summary>The snapshot as a read-only block device.</summary>
    public IBlockDevice OpenSnapshot(string snapshotId) => new SnapshotDevice(_catalog.GetSnapshot(snapshotId), _catalog);

    /// <inheritdoc cref="Catalog.CreateVolumeFromSnapshot"/>
    public Volume CreateVolumeFromSnapshot(string volumeId, string snapshotId, long capacityBytes, string? consistencyGroup = null) =>
        _catalog.CreateVolumeFromSnapshot(volumeId, snapshotId, capacityBytes, consistencyGroup);

    /// <inheritdoc cref="Catalog.CloneVolume"/>
    public Volume CloneVolume(string volumeId, string sourceVolumeId, long capacityBytes, string? consistencyGroup = null) =>
        _catalog.CloneVolume(volumeId, sourceVolumeId, capacityBytes, consistencyGroup);

    /// <inheritdoc cref="Catalog.AllocatedChunks"/>
    public IReadOnlyList<ChunkRange> AllocatedChunks(string snapshotId) => _catalog.AllocatedChunks(snapshotId);

    /// <inheritdoc cref="Catalog.ChangedChunks"/>
    public IReadOnlyList<ChunkRange> ChangedChunks(string baseSnapshotId, string targetSnapshotId) =>
        _catalog.ChangedChunks(baseSnapshotId, targetSnapshotId);

    /// <inheritdoc cref="JournalConsumers.ChangedBlocks"/>
    public SnapshotDelta ChangedBlocks(string baseSnapshotId, string targetSnapshotId) => _consumers.ChangedBlocks(baseSnapshotId, targetSnapshotId);

    /// <summary>Every consistency group now: named groups and groups of one.</summary>
    public IReadOnlyCollection<ConsistencyGroup> Groups => _catalog.Groups;

    /// <summary>Raised (on the checkpointing thread) when a journal released records a consumer still needed.</summary>
    public event EventHandler<RetentionBudgetExceededEventArgs>? RetentionBudgetExceeded;

    /// <inheritdoc cref="JournalConsumers.Register"/>
    public JournalConsumer RegisterJournalConsumer(ConsistencyGroup group, string consumer, long? position = null) =>
        _consumers.Register(group, consumer, position);

    /// <inheritdoc cref="JournalConsumers.Advance"/>
    public void AdvanceJournalConsumer(ConsistencyGroup group, string consumer, long sequence) => _consumers.Advance(group, consumer, sequence);

    public bool RemoveJournalConsumer(ConsistencyGroup group, string consumer) => _consumers.Remove(group, consumer);

    /// <inheritdoc cref="JournalConsumers.Reset"/>
    public void ResetJournalConsumer(ConsistencyGroup group, string consumer, long position) => _consumers.Reset(group, consumer, position);

    /// <inheritdoc cref="JournalConsumers.SetRetentionBudget"/>
    public void SetJournalRetentionBudget(ConsistencyGroup group, long? bytes) => _consumers.SetRetentionBudget(group, bytes);

    /// <inheritdoc cref="JournalConsumers.DirtyChunks"/>
    public IReadOnlyDictionary<string, IReadOnlyList<ChunkRange>> GetDirtyChunks(ConsistencyGroup group, string consumer) =>
        _consumers.DirtyChunks(group, consumer);

    /// <inheritdoc cref="JournalConsumers.Read"/>
    public IEnumerable<JournalRecord> ReadJournal(ConsistencyGroup group, long fromSequence, bool payloads = true) => _consumers.Read(group, fromSequence, payloads);

    /// <inheritdoc cref="JournalConsumers.OpenReader"/>
    public JournalReader OpenJournalReader(ConsistencyGroup group, long fromSequence) => _consumers.OpenReader(group, fromSequence);

    public JournalStatus GetJournalStatus(ConsistencyGroup group) => _consumers.Status(group);

    /// <summary>The newest sequence of the group's journal a power cut cannot take. With
    /// <paramref name="syncFirst"/>, records appended after it are made durable first (joining the
    /// group commit's sync in flight, or running one on this thread; at once when there are none).
    /// Takes no engine lock: for a reader that must not pass the durable end (the replication
    /// shipper), polling while writers have not flushed.</summary>
    public long JournalDurableSequence(ConsistencyGroup group, bool syncFirst = false)
    {
        var held = _catalog.Require(group);
        if (syncFirst)
        {
            held.Commit.WaitDurable(held.Journal.LastSequence);
        }
        return held.Commit.DurableSequence;
    }

    /// <inheritdoc cref="ReplicaApplier.Position"/>
    public ReplicaPosition GetReplicaPosition(ConsistencyGroup group) => _replicas.Position(group);

    /// <inheritdoc cref="ReplicaApplier.WaitForPositionAsync"/>
    public ValueTask<ReplicaPosition> WaitForReplicaPositionAsync(ConsistencyGroup group, Func<ReplicaPosition, bool> reached, CancellationToken ct = default) =>
        _replicas.WaitForPositionAsync(group, reached, ct);

    /// <inheritdoc cref="ReplicaApplier.CreateVolume"/>
    public Volume CreateReplicaVolume(string volumeId, long capacityBytes, string? consistencyGroup = null) =>
        _replicas.CreateVolume(volumeId, capacityBytes, consistencyGroup);

    /// <inheritdoc cref="ReplicaApplier.RecordTimestampMicros"/>
    public long? GetRecordTimestampMicros(ConsistencyGroup group, long sequence) => _replicas.RecordTimestampMicros(group, sequence);

    /// <inheritdoc cref="ReplicaApplier.ApplyBatchAsync"/>
    public ValueTask<ReplicaPosition> ApplyReplicaBatchAsync(ConsistencyGroup group, ReplicaBatch batch, CancellationToken ct = default) =>
        _replicas.ApplyBatchAsync(group, batch, ct);

    /// <inheritdoc cref="ReplicaApplier.AppendBatch"/>
    public ReplicaBatchAppended AppendReplicaBatch(ConsistencyGroup group, ReplicaBatch batch, CancellationToken ct = default) =>
        _replicas.AppendBatch(group, batch, ct);

    /// <inheritdoc cref="ReplicaApplier.BeginResync"/>
    public void BeginReplicaResync(ConsistencyGroup group, bool fromNothing = false) => _replicas.BeginResync(group, fromNothing);

    /// <inheritdoc cref="ReplicaApplier.WriteResyncChunksAsync"/>
    public ValueTask WriteReplicaChunksAsync(ConsistencyGroup group, IReadOnlyList<ReplicaUpdate> chunks, CancellationToken ct = default) =>
        _replicas.WriteResyncChunksAsync(group, chunks, ct);

    /// <inheritdoc cref="ReplicaApplier.CompleteResyncAsync"/>
    public ValueTask CompleteReplicaResyncAsync(ConsistencyGroup group, ReplicaPosition at, CancellationToken ct = default) =>
        _replicas.CompleteResyncAsync(group, at, ct);

    /// <inheritdoc cref="ReplicaApplier.DropResyncProtection"/>
    public void DropReplicaResyncProtection(ConsistencyGroup group) => _replicas.DropResyncProtection(group);

    /// <inheritdoc cref="ReplicaApplier.AbortResync"/>
    public void AbortReplicaResync(ConsistencyGroup group) => _replicas.AbortResync(group);

    /// <inheritdoc cref="Checkpointer.CheckpointHeld"/>
    public void Checkpoint() => _checkpointer.Checkpoint();

    /// <summary>The checkpoint lock's owner, for tests that hold the lock (TestSupport's CheckpointHold).</summary>
    internal Checkpointer Checkpointer => _checkpointer;

    /// <summary>Checkpoints and closes every file.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _checkpointer.Stop();
        CheckpointUnlessFull();
        _catalog.Close();
    }

    /// <summary>Closes every file without a final checkpoint, as a crash would leave things
    /// (the page cache survives a process crash, so this is what SIGKILL leaves behind).</summary>
    internal void CloseWithoutCheckpoint()
    {
        _disposed = true;
        _checkpointer.Stop();
        _catalog.Close();
    }

    /// <summary>A checkpoint, unless the disk is full: then the journals keep what it would have
    /// covered (replay is idempotent), as after a crash, and the next checkpoint that finds space
    /// covers it.</summary>
    private void CheckpointUnlessFull()
    {
        try
        {
            _checkpointer.Checkpoint();
        }
        catch (InsufficientSpaceException e)
        {
            EngineLog.CheckpointDeferred(_logger, e.Message);
        }
    }
}
