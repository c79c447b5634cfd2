namespace CsiDriver.Engine;

/// <summary>Where one atomic cut fell: per group, the sequence of its cut record.</summary>
/// <param name="WriterPause">How long writers of the cut groups were held.</param>
public sealed record GroupCut(IReadOnlyList<GroupCutPoint> Points, TimeSpan WriterPause);

/// <param name="Replica">For a replica group at the backup: the main-site position the cut holds
/// (batches are applied under the same pause as the cut, so it is always a batch boundary).</param>
public sealed record GroupCutPoint(ConsistencyGroup Group, long Sequence, IReadOnlyList<string> VolumeIds, Replication.ReplicaPosition? Replica = null)
{
    /// <summary>The named group, or null for a group of one.</summary>
    public string? ConsistencyGroup => Group.Name;
}
