using System.Globalization;
using System.Text.Json;

namespace CsiDriver.State;

/// <summary>
/// Replications enabled through csi-addons (schema version 2). Invariant with the replication
/// manager's catalog: EnableVolumeReplication writes this row before it asks the manager to
/// enable, and DisableVolumeReplication deletes it only after the manager has disabled. So
/// after a crash a row may exist for a replication the manager does not know (an interrupted
/// enable, which the CO's retry finishes, or an interrupted disable, which its retry finishes),
/// never the reverse for a replication enabled here.
/// </summary>
public sealed partial class StateStore
{
    private const string ReplicationSchema = """
        CREATE TABLE replications (
            id TEXT PRIMARY KEY,
            source_kind TEXT NOT NULL,
            co_replication_id TEXT NOT NULL,
            parameters TEXT NOT NULL,
            enabled_at TEXT NOT NULL);
        """;

    public EnabledReplicationRecord? FindReplication(string id) => Replications("WHERE id = $k", ("$k", id)).SingleOrDefault();

    /// <summary>Every replication enabled here, in id order.</summary>
    public IReadOnlyList<EnabledReplicationRecord> ListReplications() => Replications("");

    public void InsertReplication(EnabledReplicationRecord r) => Execute("""
        INSERT INTO replications (id, source_kind, co_replication_id, parameters, enabled_at)
        VALUES ($id, $kind, $co, $params, $enabled)
        """,
        ("$id", r.Id), ("$kind", r.SourceKind.ToString()), ("$co", r.CoReplicationId),
        ("$params", JsonSerializer.Serialize(r.Parameters)), ("$enabled", r.EnabledAt.ToString("o", CultureInfo.InvariantCulture)));

    public void DeleteReplication(string id) => Execute("DELETE FROM replications WHERE id = $id", ("$id", id));

    private List<EnabledReplicationRecord> Replications(string where, params (string Name, object Value)[] parameters) =>
        Query($"SELECT id, source_kind, co_replication_id, parameters, enabled_at FROM replications {where} ORDER BY id",
            r => new EnabledReplicationRecord(
                r.GetString(0),
                Enum.Parse<ReplicationSourceKind>(r.GetString(1)),
                r.GetString(2),
                JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(3))!,
                DateTimeOffset.Parse(r.GetString(4), CultureInfo.InvariantCulture)),
            parameters);
}
