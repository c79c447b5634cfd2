using CsiDriver.Engine.Metadata;

namespace CsiDriver.Engine;

public sealed partial class StorageEngine
{
    private string CatalogPath => Path.Combine(DataDirectory, "catalog");

    private string CheckpointPath => Path.Combine(DataDirectory, "checkpoint");

    /// <summary>Writes the structure as it is now. Caller holds the structure lock.</summary>
    private void SaveCatalog()
    {
        var document = new CatalogDocument
        {
            NextLayerId = _nextLayerId,
            NextVolumeNumber = _nextVolumeNumber,
            Groups = _groups.Values.Where(g => g.Name != null).Select(g => g.Name!).Order(StringComparer.Ordinal).ToList(),
            Volumes = _volumes.Values
                .Select(v => new VolumeEntry(v.Id, v.Number, v.ConsistencyGroup, v.Size, v.IsReadOnly, v.Top.Id, v.JoinedSequence))
                .ToList(),
            Layers = _layers.Values
                .Select(l => new LayerEntry(l.Id, l.Parent?.Id ?? 0, l.Journal, l.StartSequence, l.SizeBytes))
                .ToList(),
            Snapshots = _snapshots.Values
                .Select(s => new SnapshotEntry(s.Id, s.VolumeId, s.Layer.Id, s.SizeBytes, s.CreatedAt, s.Sequence, s.ConsistencyGroup))
                .ToList(),
        };
        MetadataFile.Write(CatalogPath, CatalogDocument.FileMagic, document.Serialize());
    }

    private CatalogDocument LoadCatalog()
    {
        var payload = MetadataFile.Read(CatalogPath, CatalogDocument.FileMagic);
        return payload == null ? new CatalogDocument() : CatalogDocument.Parse(payload, CatalogPath);
    }

    private CheckpointDocument LoadCheckpoint()
    {
        var payload = MetadataFile.Read(CheckpointPath, CheckpointDocument.FileMagic, CheckpointDocument.Version);
        return payload == null ? new CheckpointDocument() : CheckpointDocument.Parse(payload, CheckpointPath);
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
}
