using System.Globalization;

namespace CsiDriver.State;

public sealed partial class StateStore
{
    public SnapshotRecord? FindSnapshot(string id) => Snapshots("WHERE id = $k", ("$k", id)).SingleOrDefault();

    public SnapshotRecord? FindSnapshotByName(string name) => Snapshots("WHERE name = $k", ("$k", name)).SingleOrDefault();

    /// <summary>Every snapshot in id order (the order ListSnapshots pages through).</summary>
    public IReadOnlyList<SnapshotRecord> ListSnapshots() => Snapshots("");

    public IReadOnlyList<SnapshotRecord> GroupMembers(string groupSnapshotId) =>
        Snapshots("WHERE group_snapshot_id = $g", ("$g", groupSnapshotId));

    public void InsertSnapshot(SnapshotRecord s) => ExecuteAll([SnapshotInsert(s)]);

    public void DeleteSnapshot(string id) => Execute("DELETE FROM snapshots WHERE id = $id", ("$id", id));

    public GroupSnapshotRecord? FindGroupSnapshot(string id) => GroupSnapshots("WHERE id = $k", ("$k", id)).SingleOrDefault();

    public GroupSnapshotRecord? FindGroupSnapshotByName(string name) => GroupSnapshots("WHERE name = $k", ("$k", name)).SingleOrDefault();

    public IReadOnlyList<GroupSnapshotRecord> ListGroupSnapshots() => GroupSnapshots("");

    /// <summary>The group and its members in one transaction: never a group missing members.</summary>
    public void InsertGroupSnapshot(GroupSnapshotRecord group, IEnumerable<SnapshotRecord> members) =>
        ExecuteAll(members.Select(SnapshotInsert).Prepend((
            "INSERT INTO group_snapshots (id, name, created_at) VALUES ($id, $name, $created)",
            [("$id", group.Id), ("$name", group.Name), ("$created", Timestamp(group.CreatedAt))])));

    /// <summary>Removes the group and its members' rows in one transaction.</summary>
    public void DeleteGroupSnapshot(string id) => Execute(
        "DELETE FROM snapshots WHERE group_snapshot_id = $id; DELETE FROM group_snapshots WHERE id = $id;", ("$id", id));

    private static (string, (string, object)[]) SnapshotInsert(SnapshotRecord s) => (
        "INSERT INTO snapshots (id, name, source_volume_id, size, created_at, group_snapshot_id) VALUES ($id, $name, $source, $size, $created, $group)",
        [("$id", s.Id), ("$name", s.Name), ("$source", s.SourceVolumeId), ("$size", s.SizeBytes), ("$created", Timestamp(s.CreatedAt)), ("$group", s.GroupSnapshotId)]);

    private static string Timestamp(DateTimeOffset time) => time.ToString("o", CultureInfo.InvariantCulture);

    private List<SnapshotRecord> Snapshots(string where, params (string Name, object Value)[] parameters) =>
        Query($"SELECT id, name, source_volume_id, size, created_at, group_snapshot_id FROM snapshots {where} ORDER BY id",
            r => new SnapshotRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3),
                DateTimeOffset.Parse(r.GetString(4), CultureInfo.InvariantCulture), r.GetString(5)),
            parameters);

    private List<GroupSnapshotRecord> GroupSnapshots(string where, params (string Name, object Value)[] parameters) =>
        Query($"SELECT id, name, created_at FROM group_snapshots {where} ORDER BY id",
            r => new GroupSnapshotRecord(r.GetString(0), r.GetString(1), DateTimeOffset.Parse(r.GetString(2), CultureInfo.InvariantCulture)),
            parameters);
}
