namespace CsiDriver.Engine.Nbd;

/// <summary>
/// Exports the snapshots taken on request (<see cref="SnapshotPurpose.User"/>) read-only under
/// their ids, so a backup reads a snapshot's data, or only its changed ranges, without first
/// making a volume of it. Snapshots the engine or replication keep for themselves are not listed.
/// </summary>
public sealed class SnapshotExportCatalog(StorageEngine engine) : INbdExportCatalog
{
    public IEnumerable<NbdExportInfo> List() =>
        engine.Snapshots
            .Where(s => s.Purpose == SnapshotPurpose.User)
            .OrderBy(s => s.Id, StringComparer.Ordinal)
            .Select(s => new NbdExportInfo(s.Id, s.SizeBytes, true, "snapshot"));

    public IBlockDevice? Open(string name) =>
        engine.FindSnapshot(name) is { Purpose: SnapshotPurpose.User } ? engine.OpenSnapshot(name) : null;
}
