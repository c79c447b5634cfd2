using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Layers;
using CsiDriver.Engine.Metadata;
using CsiDriver.Engine.Replication;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Engine;

internal sealed partial class Catalog
{
    /// <summary>
    /// Loads the catalog and the chunk maps of the last checkpoint, replays every journal from
    /// its checkpoint (cutting off a torn or corrupt tail, see <paramref name="reports"/>) into
    /// the layers, sets each replica group's state to the one replayed, and removes leftovers of
    /// interrupted operations.
    /// </summary>
    /// <exception cref="CorruptionException">The catalog or a chunk map is unreadable.</exception>
    public static Catalog Open(
        string dataDirectory, EngineOptions options, Checkpointer checkpointer, CheckpointDocument checkpoint, ILogger logger,
        out IReadOnlyList<JournalRecoveryReport> reports)
    {
        var catalog = new Catalog(dataDirectory, options, checkpointer, logger);
        try
        {
            reports = catalog.Load(checkpoint);
            return catalog;
        }
        catch
        {
            catalog.Close();
            throw;
        }
    }

    private List<JournalRecoveryReport> Load(CheckpointDocument checkpointDocument)
    {
        Directory.CreateDirectory(_layerDirectory);
        Directory.CreateDirectory(_journalDirectory);
        var payload = MetadataFile.Read(_path, CatalogDocument.FileMagic, CatalogDocument.Version);
        var catalog = payload == null ? new CatalogDocument() : CatalogDocument.Parse(payload, _path);
        var checkpoint = checkpointDocument.Journals.ToDictionary(j => j.Journal, StringComparer.Ordinal);
        _nextLayerId = catalog.NextLayerId;
        _nextVolumeNumber = catalog.NextVolumeNumber;

        foreach (var entry in catalog.Layers)
        {
            _layers[entry.Id] = new Layer(entry.Id, _layerDirectory, LoadMap(entry))
            {
                Journal = entry.Journal,
                StartSequence = entry.StartSequence,
                SizeBytes = entry.SizeBytes,
            };
        }
        foreach (var entry in catalog.Layers.Where(e => e.Parent != 0))
        {
            var parent = LayerById(entry.Parent);
            _layers[entry.Id].Parent = parent;
            parent.Children++;
        }

        // Volumes by number as recovery needs them: where their records go.
        var replayTargets = catalog.Volumes.ToDictionary(v => v.Number);
        var reports = new List<JournalRecoveryReport>();
        var replayed = new ReplicaReplay();
        var journals = catalog.Groups.Select(g => (Journal: g, Name: (string?)g))
            .Concat(catalog.Volumes.Where(v => v.Group == null).Select(v => (Journal: ConsistencyGroup.SoloJournalName(v.Number), Name: (string?)null)));
        foreach (var (journal, name) in journals)
        {
            var from = checkpoint.TryGetValue(journal, out var entry) ? entry.Sequence : 0;
            replayed.State = entry?.Replica;
            var group = OpenGroup(journal, name, from, (in RecordHeader header, ReadOnlySpan<byte> payload) =>
                Replay(journal, replayTargets, replayed, header, payload), out var report);
            group.CheckpointSequence = from;
            group.Replica = replayed.State;
            reports.Add(report);
            if (report.ReplayedRecords > 0)
            {
                EngineLog.JournalReplayed(_logger, journal, report.ReplayedRecords, report.ReplayedBytes, from, report.LastSequence);
            }
            if (report.CutReason != null)
            {
                EngineLog.JournalTailCut(_logger, journal, report.CutBytes, report.LastSequence, report.CutReason);
                foreach (var layer in _layers.Values.Where(l => l.Journal == journal))
                {
                    LayerChain.PunchUnheld(layer);
                }
            }
        }

        foreach (var entry in catalog.Volumes.Select(replayed.WithReplayedSize))
        {
            var group = _groups[entry.Group ?? ConsistencyGroup.SoloJournalName(entry.Number)];
            var volume = new Volume(entry.Id, entry.Number, entry.SizeBytes, entry.ReadOnly, group, LayerById(entry.TopLayer))
            {
                JoinedSequence = entry.JoinedSequence,
            };
            volume.Top.Owner = volume;
            group.Members.Add(volume);
            _volumes[entry.Id] = volume;
        }
        foreach (var entry in catalog.Snapshots)
        {
            var layer = LayerById(entry.Layer);
            var snapshot = new Snapshot(entry.Id, entry.VolumeId, entry.SizeBytes, entry.CreatedAt, entry.Sequence, entry.Group, entry.PurposeOrLegacy(), layer);
            layer.Snapshot = snapshot;
            _snapshots[entry.Id] = snapshot;
        }
        RemoveOrphans();
        return reports;
    }

    private ChunkMap LoadMap(LayerEntry entry)
    {
        var path = Path.Combine(_layerDirectory, $"{entry.Id:D8}.map");
        var payload = MetadataFile.Read(path, ChunkMap.FileMagic);
        var map = payload == null ? new ChunkMap(ChunksFor(entry.SizeBytes)) : ChunkMap.Parse(payload, path);
        map.Grow(ChunksFor(entry.SizeBytes));
        return map;
    }

    /// <summary>Deletes layer files and journal directories the catalog does not name: what an
    /// operation interrupted by a crash left behind.</summary>
    private void RemoveOrphans()
    {
        var removed = 0;
        foreach (var file in Directory.EnumerateFiles(_layerDirectory))
        {
            var stem = Path.GetFileName(file).Split('.')[0];
            if (!long.TryParse(stem, out var id) || !_layers.ContainsKey(id))
            {
                File.Delete(file);
                removed++;
            }
        }
        foreach (var directory in Directory.EnumerateDirectories(_journalDirectory))
        {
            if (!_groups.ContainsKey(Path.GetFileName(directory)))
            {
                Directory.Delete(directory, recursive: true);
                removed++;
            }
        }
        if (removed > 0)
        {
            EngineLog.OrphansRemoved(_logger, removed);
        }
    }

    /// <summary>Applies one record found after a checkpoint.</summary>
    private void Replay(string journal, Dictionary<uint, VolumeEntry> volumes, ReplicaReplay replayed, in RecordHeader header, ReadOnlySpan<byte> payload)
    {
        switch (header.Kind)
        {
            // A Resize is replayed too: its catalog save may not have happened before the crash.
            case JournalRecordKind.Write or JournalRecordKind.Trim or JournalRecordKind.WriteZeroes or JournalRecordKind.Resize:
                ReplayUpdate(journal, volumes, replayed, header.Sequence, header.VolumeNumber, header.Kind, header.Offset, header.Length, payload);
                break;
            case JournalRecordKind.ReplicaBatch or JournalRecordKind.ReplicaState:
                ReplayReplica(journal, volumes, replayed, header, payload);
                break;
        }
    }

    /// <summary>Applies one update of record <paramref name="sequence"/>. It counts only for a
    /// volume still in that journal's group and joined before it; it lands in the topmost layer
    /// of the volume that was the top when it was written.</summary>
    private void ReplayUpdate(
        string journal, Dictionary<uint, VolumeEntry> volumes, ReplicaReplay replayed,
        long sequence, uint volumeNumber, JournalRecordKind kind, long offset, long length, ReadOnlySpan<byte> payload)
    {
        if (!volumes.TryGetValue(volumeNumber, out var volume)
            || (volume.Group ?? ConsistencyGroup.SoloJournalName(volume.Number)) != journal
            || sequence <= volume.JoinedSequence)
        {
            return;
        }
        if (kind == JournalRecordKind.Resize)
        {
            replayed.Grow(volume, length, LayerById(volume.TopLayer));
            return;
        }
        var target = LayerById(volume.TopLayer);
        while (target != null && (target.Journal != journal || target.StartSequence > sequence))
        {
            target = target.Parent;
        }
        if (target == null)
        {
            return;
        }
        target.Map.Grow(ChunksFor(offset + length));
        try
        {
            LayerChain.Apply(target, replayed.SizeOf(volume), kind, offset, length, payload);
        }
        catch (IOException e) when (Native.IsDiskFull(e))
        {
            // Writes acknowledged while the data files could not grow are only in the journal.
            throw new InsufficientSpaceException(
                $"journal {journal}: no space to replay record {sequence} into volume '{volume.Id}'; free space and start again (nothing is lost)", e);
        }
    }

    /// <summary>Replays a replica record: a batch's updates in order (each routed like an
    /// ordinary record of the same sequence) and the position it carries, or a state change.
    /// The record passed its checksum, so a batch that does not parse is corruption, not a torn write.</summary>
    private void ReplayReplica(string journal, Dictionary<uint, VolumeEntry> volumes, ReplicaReplay replayed, in RecordHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Kind == JournalRecordKind.ReplicaState)
        {
            replayed.State = ReplicaState.TryParse(payload, out var state, out var stateError)
                ? state
                : throw new CorruptionException($"journal {journal} record {header.Sequence}: {stateError}");
            return;
        }
        if (!ReplicaBatchRecord.TryParse(payload, out var reader, out var error))
        {
            throw new CorruptionException($"journal {journal} record {header.Sequence}: {error}");
        }
        while (reader.TryNext(out var update))
        {
            ReplayUpdate(journal, volumes, replayed, header.Sequence, update.VolumeNumber, update.Kind, update.Offset, update.Length, update.Data);
        }
        replayed.State = (replayed.State ?? default) with
        {
            SourceSequence = reader.LastSequence,
            SourceTimestampMicros = reader.SourceTimestampMicros,
        };
    }

    /// <summary>What replay learns beyond the data: the replica state of the journal being
    /// replayed, and volume sizes that replica batches grew (the catalog may not have been saved
    /// with them before a crash).</summary>
    private sealed class ReplicaReplay
    {
        private readonly Dictionary<uint, long> _sizes = [];

        public ReplicaState? State { get; set; }

        public long SizeOf(VolumeEntry volume) => Math.Max(volume.SizeBytes, _sizes.GetValueOrDefault(volume.Number));

        public void Grow(VolumeEntry volume, long sizeBytes, Layer top)
        {
            var size = Math.Max(SizeOf(volume), sizeBytes);
            _sizes[volume.Number] = size;
            top.Map.Grow(ChunksFor(size));
            top.SizeBytes = Math.Max(top.SizeBytes, size);
        }

        public VolumeEntry WithReplayedSize(VolumeEntry volume) => volume with { SizeBytes = SizeOf(volume) };
    }
}
