using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Layers;
using CsiDriver.Engine.Metadata;

namespace CsiDriver.Engine;

public sealed partial class StorageEngine
{
    /// <summary>
    /// Opens (creating if needed) the engine's state under <paramref name="dataDirectory"/>:
    /// loads the catalog and the chunk maps of the last checkpoint, replays every journal from
    /// its checkpoint (cutting off a torn or corrupt tail, see <see cref="Recovery"/>), removes
    /// leftovers of interrupted operations, and checkpoints what was replayed.
    /// </summary>
    /// <exception cref="CorruptionException">The catalog, the checkpoint or a chunk map is unreadable.</exception>
    public static StorageEngine Open(string dataDirectory, EngineOptions? options = null)
    {
        var engine = new StorageEngine(Path.GetFullPath(dataDirectory), options ?? new EngineOptions());
        try
        {
            engine.Load();
        }
        catch
        {
            engine.Close();
            throw;
        }
        return engine;
    }

    private void Load()
    {
        Directory.CreateDirectory(_layerDirectory);
        Directory.CreateDirectory(_journalDirectory);
        var catalog = LoadCatalog();
        var checkpoint = LoadCheckpoint().Journals.ToDictionary(j => j.Journal, StringComparer.Ordinal);
        _nextLayerId = catalog.NextLayerId;
        _nextVolumeNumber = catalog.NextVolumeNumber;

        foreach (var entry in catalog.Layers)
        {
            var map = LoadMap(entry);
            _layers[entry.Id] = new Layer(entry.Id, _layerDirectory, map)
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
            foreach (var consumer in entry?.Consumers ?? [])
            {
                group.Consumers[consumer.Name] = new JournalConsumer(consumer.Name, consumer.Position) { Overrun = consumer.Overrun };
            }
            RestoreDirtyMarks(group);
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
        Recovery = reports;

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
            var snapshot = new Snapshot(entry.Id, entry.VolumeId, entry.SizeBytes, entry.CreatedAt, entry.Sequence, entry.Group, layer);
            layer.Snapshot = snapshot;
            _snapshots[entry.Id] = snapshot;
        }
        RemoveOrphans();
        try
        {
            Checkpoint();
        }
        catch (InsufficientSpaceException e)
        {
            // With no space the journals keep what was replayed (replay is idempotent): the engine
            // serves, and reports no capacity, until space is freed and a checkpoint succeeds.
            EngineLog.CheckpointDeferred(_logger, e.Message);
        }
        RemoveStaleProtectiveSnapshots();
        StartCheckpointer();
    }

    private ChunkMap LoadMap(LayerEntry entry)
    {
        var path = Path.Combine(_layerDirectory, $"{entry.Id:D8}.map");
        var payload = MetadataFile.Read(path, ChunkMap.FileMagic);
        var map = payload == null ? new ChunkMap(ChunksFor(entry.SizeBytes)) : ChunkMap.Parse(payload, path);
        map.Grow(ChunksFor(entry.SizeBytes));
        return map;
    }

    private Layer LayerById(long id) =>
        _layers.GetValueOrDefault(id) ?? throw new CorruptionException($"{CatalogPath}: layer {id} is referenced but not listed");

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
        if (kind == JournalRecordKind.Write)
        {
            LayerChain.Write(target, offset, payload);
        }
        else
        {
            LayerChain.Discard(target, replayed.SizeOf(volume), offset, length);
        }
    }
}
