using System.Globalization;
using System.Text.Json;

namespace CsiDriver.State;

/// <summary>
/// csi-addons volume groups. Invariant with the engine: the row is inserted before any volume
/// moves into the group's consistency group and deleted only once none is left in it, so a
/// volume is never in a group-named consistency group that has no row (the engine keeps
/// membership in its own catalog, which survives restarts; storing it here too would give two
/// truths that a crash between them could make disagree). A create interrupted between its
/// row and its last move leaves <c>pending_volume_ids</c> set; repeating the create finishes it.
/// </summary>
public sealed partial class StateStore
{
    public VolumeGroupRecord? FindVolumeGroup(string id) => VolumeGroups("WHERE id = $k", ("$k", id)).SingleOrDefault();

    public VolumeGroupRecord? FindVolumeGroupByName(string name) => VolumeGroups("WHERE name = $k", ("$k", name)).SingleOrDefault();

    /// <summary>Every volume group in id order (the order ListVolumeGroups pages through).</summary>
    public IReadOnlyList<VolumeGroupRecord> ListVolumeGroups() => VolumeGroups("");

    public void InsertVolumeGroup(VolumeGroupRecord g) => Execute(
        "INSERT INTO volume_groups (id, name, parameters, pending_volume_ids, created_at) VALUES ($id, $name, $params, $pending, $created)",
        ("$id", g.Id), ("$name", g.Name), ("$params", JsonSerializer.Serialize(g.Parameters)),
        ("$pending", g.PendingVolumeIds is null ? (object)DBNull.Value : JsonSerializer.Serialize(g.PendingVolumeIds)),
        ("$created", g.CreatedAt.ToString("o", CultureInfo.InvariantCulture)));

    /// <summary>Marks the group's create as finished: every volume it listed has moved in.</summary>
    public void CompleteVolumeGroup(string id) =>
        Execute("UPDATE volume_groups SET pending_volume_ids = NULL WHERE id = $id", ("$id", id));

    public void DeleteVolumeGroup(string id) => Execute("DELETE FROM volume_groups WHERE id = $id", ("$id", id));

    private List<VolumeGroupRecord> VolumeGroups(string where, params (string Name, object Value)[] parameters) =>
        Query($"SELECT id, name, parameters, pending_volume_ids, created_at FROM volume_groups {where} ORDER BY id",
            r => new VolumeGroupRecord(
                r.GetString(0),
                r.GetString(1),
                JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(2))!,
                r.IsDBNull(3) ? null : JsonSerializer.Deserialize<List<string>>(r.GetString(3))!,
                DateTimeOffset.Parse(r.GetString(4), CultureInfo.InvariantCulture)),
            parameters);
}
