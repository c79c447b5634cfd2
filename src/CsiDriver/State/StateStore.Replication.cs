using System.Globalization;
using System.Text.Json;

namespace CsiDriver.State;

/// <summary>
/// Enabled replications (schema version 2). A row exists while replication of its source is
/// enabled at this site; its role is the role this site plays. Invariant with the replication
/// manager: the row is written before the manager starts shipping or receiving for it and
/// deleted only after the manager has stopped and released its journal consumer, so after a
/// crash a replication is either resumed from its row or has nothing left running for it.
/// A role change is written after the manager has made it (a crash between the two leaves the
/// old role in the row, and the CO's retry of Promote or Demote makes it again; both are
/// idempotent).
/// </summary>
public sealed partial class StateStore
{
    private const string ReplicationSchema = """
        CREATE TABLE replications (
            id TEXT PRIMARY KEY,
            source_kind TEXT NOT NULL,
            co_replication_id TEXT NOT NULL,
            parameters TEXT NOT NULL,
            secrets TEXT NOT NULL,
            role TEXT NOT NULL,
            enabled_at TEXT NOT NULL);
        """;

    public ReplicationRecord? FindReplication(string id) => Replications("WHERE id = $k", ("$k", id)).SingleOrDefault();

    /// <summary>Every enabled replication in id order.</summary>
    public IReadOnlyList<ReplicationRecord> ListReplications() => Replications("");

    /// <summary>Inserts the row, or replaces the one with the same id (a repeated enable with
    /// new secrets keeps the newest).</summary>
    public void SaveReplication(ReplicationRecord r) => Execute("""
        INSERT INTO replications (id, source_kind, co_replication_id, parameters, secrets, role, enabled_at)
        VALUES ($id, $kind, $co, $params, $secrets, $role, $enabled)
        ON CONFLICT (id) DO UPDATE SET source_kind = $kind, co_replication_id = $co, parameters = $params,
            secrets = $secrets, role = $role, enabled_at = $enabled
        """,
        ("$id", r.Id), ("$kind", r.SourceKind.ToString()), ("$co", r.CoReplicationId),
        ("$params", JsonSerializer.Serialize(r.Parameters)), ("$secrets", JsonSerializer.Serialize(r.Secrets)),
        ("$role", r.Role.ToString()), ("$enabled", r.EnabledAt.ToString("o", CultureInfo.InvariantCulture)));

    public void SetReplicationRole(string id, ReplicationRole role) =>
        Execute("UPDATE replications SET role = $role WHERE id = $id", ("$id", id), ("$role", role.ToString()));

    public void DeleteReplication(string id) => Execute("DELETE FROM replications WHERE id = $id", ("$id", id));

    private List<ReplicationRecord> Replications(string where, params (string Name, object Value)[] parameters) =>
        Query($"SELECT id, source_kind, co_replication_id, parameters, secrets, role, enabled_at FROM replications {where} ORDER BY id",
            r => new ReplicationRecord(
                r.GetString(0),
                Enum.Parse<ReplicationSourceKind>(r.GetString(1)),
                r.GetString(2),
                JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(3))!,
                JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(4))!,
                Enum.Parse<ReplicationRole>(r.GetString(5)),
                DateTimeOffset.Parse(r.GetString(6), CultureInfo.InvariantCulture)),
            parameters);
}
