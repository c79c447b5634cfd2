using CsiDriver.Engine.Layers;

namespace CsiDriver.Engine;

public sealed partial class StorageEngine
{
    /// <summary>The chunks holding data in the snapshot (everything else reads as zeroes), as
    /// ascending, merged ranges. A chunk discarded after an older snapshot is listed (it hides
    /// the older data) although it reads as zeroes.</summary>
    public IReadOnlyList<ChunkRange> AllocatedChunks(string snapshotId)
    {
        lock (_structure)
        {
            var snapshot = FindSnapshot(snapshotId) ?? throw new SnapshotNotFoundException(snapshotId);
            return Union(Ancestry(snapshot.Layer), snapshot.SizeBytes);
        }
    }

    /// <summary>
    /// The chunks that may differ between two snapshots (of one volume, or of volumes related by
    /// cloning), as ascending, merged ranges within the larger size: every chunk held by a
    /// layer on either side of their nearest common layer. A chunk written with the same bytes
    /// again is listed too; a chunk not listed is certainly equal.
    /// </summary>
    public IReadOnlyList<ChunkRange> ChangedChunks(string baseSnapshotId, string targetSnapshotId)
    {
        lock (_structure)
        {
            var baseline = FindSnapshot(baseSnapshotId) ?? throw new SnapshotNotFoundException(baseSnapshotId);
            var target = FindSnapshot(targetSnapshotId) ?? throw new SnapshotNotFoundException(targetSnapshotId);
            var baseChain = Ancestry(baseline.Layer);
            var targetChain = Ancestry(target.Layer);
            var common = targetChain.Intersect(baseChain).ToHashSet();
            var differing = baseChain.Concat(targetChain).Where(l => !common.Contains(l)).ToList();
            return Union(differing, Math.Max(target.SizeBytes, baseline.SizeBytes));
        }
    }

    private static List<Layer> Ancestry(Layer layer)
    {
        var chain = new List<Layer>();
        for (Layer? current = layer; current != null; current = current.Parent)
        {
            chain.Add(current);
        }
        return chain;
    }

    private static List<ChunkRange> Union(IEnumerable<Layer> layers, long sizeBytes)
    {
        var union = ChunkMap.NewWords(ChunksFor(sizeBytes));
        foreach (var layer in layers)
        {
            layer.Map.OrInto(union);
        }
        return ChunkRange.Coalesce(ChunkMap.ChunksOf(union), sizeBytes).ToList();
    }
}
