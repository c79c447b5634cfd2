using System.Globalization;

namespace CsiDriver.State;

public sealed partial class StateStore
{
    public SnapshotRecord? FindSnapshot(string id) => Snapshots("WHERE id = $k", ("$k", id)).SingleOrDefault();

    public SnapshotRecord? FindSnapshotByName(string name) => Snapshots("WHERE name = $k", ("$k", name)).SingleOrDefault();

    /// <summary>Every snapshot in id order (the order ListSnapshots pages through).</summary>
    public IReadOnlyList<SnapshotRecord> ListSnapshots() => Snapshots("");

    public void InsertSnapshot(SnapshotRecord s) => Execute(
        "INSERT INTO snapshots (id, name, source_volume_id, size, created_at) VALUES ($id, $name, $source, $size, $created)",
        ("$id", s.Id), ("$name", s.Name), ("$source", s.SourceVolumeId), ("$size", s.SizeBytes),
        ("$created", s.CreatedAt.ToString("o", CultureInfo.InvariantCulture)));

    public void DeleteSnapshot(string id) => Execute("DELETE FROM snapshots WHERE id = $id", ("$id", id));

    private List<SnapshotRecord> Snapshots(string where, params (string Name, object Value)[] parameters) =>
        Query($"SELECT id, name, source_volume_id, size, created_at FROM snapshots {where} ORDER BY id",
            r => new SnapshotRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3),
                DateTimeOffset.Parse(r.GetString(4), CultureInfo.InvariantCulture)),
            parameters);
}
