using System.Text.Json;
using CsiDriver.Replication;
using Microsoft.Data.Sqlite;

namespace CsiDriver.State;

/// <summary>
/// The replication manager's records (schema 3): one row per replication this site takes part
/// in, written whole in one transaction (see <see cref="IReplicationStore"/> for the invariant),
/// with the parameters it was enabled with and the link TLS its secrets gave, which is why the
/// store is owner-only. Schema 2 had a second table for the enable's parameters, kept apart from
/// the manager's own file (<see cref="LegacyReplicationCatalog"/>); step 3 takes both into this
/// one table, so no two stores have to agree on a replication any more.
/// </summary>
public sealed partial class StateStore : IReplicationStore
{
    private const string ReplicationRequestSchema = """
        CREATE TABLE replications (
            id TEXT PRIMARY KEY,
            source_kind TEXT NOT NULL,
            co_replication_id TEXT NOT NULL,
            parameters TEXT NOT NULL,
            enabled_at TEXT NOT NULL);
        """;

    private const string ReplicationRecordSchema = """
        CREATE TABLE replication_records (
            id TEXT PRIMARY KEY,
            volume_ids TEXT NOT NULL,
            group_name TEXT,
            peer_address TEXT,
            mode TEXT NOT NULL,
            journal_budget INTEGER,
            role TEXT NOT NULL,
            secondary_state TEXT NOT NULL,
            common_cut_sequence INTEGER NOT NULL,
            promotion_snapshots TEXT NOT NULL,
            protection_snapshots TEXT NOT NULL,
            parameters TEXT,
            tls_certificate TEXT,
            tls_key TEXT,
            tls_authorities TEXT);
        """;

    /// <summary>Step 5: each record's epoch, and a primary's fence and promotion outcome (JSON).
    /// Records from before have epoch 0, which supersedes nobody.</summary>
    private const string ReplicationEpochsSchema = """
        ALTER TABLE replication_records ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE replication_records ADD COLUMN fence TEXT;
        ALTER TABLE replication_records ADD COLUMN promotion TEXT;
        """;

    /// <summary>Step 6: how each volume's ids read at the other site (JSON, volume id →
    /// <c>{"Owner", "Rebased"}</c>). Records from before have none, learnt again from the link.</summary>
    private const string ReplicationPeersSchema = """
        ALTER TABLE replication_records ADD COLUMN peers TEXT NOT NULL DEFAULT '{}';
        """;

    private const string Columns = """
        id, volume_ids, group_name, peer_address, mode, journal_budget, role, secondary_state,
        common_cut_sequence, promotion_snapshots, protection_snapshots, parameters, tls_certificate, tls_key, tls_authorities,
        epoch, fence, promotion, peers
        """;

    public IReadOnlyList<ReplicationRecord> LoadReplications() =>
        Query($"SELECT {Columns} FROM replication_records ORDER BY id", ReadReplication);

    public void SaveReplication(ReplicationRecord record)
    {
        var (sql, parameters) = InsertReplication(record);
        Execute(sql, parameters);
    }

    public void RemoveReplication(string replicationId) =>
        Execute("DELETE FROM replication_records WHERE id = $id", ("$id", replicationId));

    /// <summary>
    /// Schema 2 → 3: the manager's records from <c>replication.catalog</c>, each with the
    /// parameters of its <c>replications</c> row where it has one, into <c>replication_records</c>.
    /// A row without a record was an enable interrupted by a crash (the row came first): it is
    /// dropped, and the CO's retry enables afresh. The file is deleted after the commit.
    /// </summary>
    private IEnumerable<(string Sql, (string Name, object Value)[] Parameters)> ReplicationRecordsStep(string dataDirectory)
    {
        var hasRequests = Convert.ToInt64(Scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'replications'"), System.Globalization.CultureInfo.InvariantCulture) > 0;
        var requested = hasRequests
            ? Query("SELECT id, parameters FROM replications", r => (Id: r.GetString(0), Parameters: JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(1))!))
                .ToDictionary(r => r.Id, r => r.Parameters, StringComparer.Ordinal)
            : new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        var statements = new List<(string, (string, object)[])> { (ReplicationRecordSchema, []) };
        foreach (var record in LegacyReplicationCatalog.Read(dataDirectory))
        {
            statements.Add(InsertReplication(record with { Parameters = requested.GetValueOrDefault(record.Id) }, schema3: true));
        }
        statements.Add(("DROP TABLE IF EXISTS replications", []));
        return statements;
    }

    /// <summary>The statement saving <paramref name="r"/> whole; with <paramref name="schema3"/>
    /// only the columns schema 3 has (the step that takes in the legacy catalog runs before steps 5 and 6).</summary>
    private static (string Sql, (string Name, object Value)[] Parameters) InsertReplication(ReplicationRecord r, bool schema3 = false)
    {
        (string Column, object Value)[] values =
        [
            ("id", r.Id), ("volume_ids", JsonSerializer.Serialize(r.VolumeIds)), ("group_name", OrNull(r.GroupName)), ("peer_address", OrNull(r.PeerAddress)),
            ("mode", r.Mode.ToString()), ("journal_budget", r.JournalBudgetBytes is { } budget ? budget : DBNull.Value), ("role", r.Role.ToString()),
            ("secondary_state", r.SecondaryState.ToString()), ("common_cut_sequence", r.CommonCutSequence),
            ("promotion_snapshots", JsonSerializer.Serialize(r.PromotionSnapshots)), ("protection_snapshots", JsonSerializer.Serialize(r.ProtectionSnapshots)),
            ("parameters", r.Parameters is null ? DBNull.Value : JsonSerializer.Serialize(r.Parameters)),
            ("tls_certificate", OrNull(r.Tls?.Certificate)), ("tls_key", OrNull(r.Tls?.Key)), ("tls_authorities", OrNull(r.Tls?.Authorities)),
            .. schema3
                ? []
                : new (string, object)[]
                {
                    ("epoch", r.Epoch), ("fence", r.Fence is null ? DBNull.Value : JsonSerializer.Serialize(r.Fence)),
                    ("promotion", r.Promotion is null ? DBNull.Value : JsonSerializer.Serialize(r.Promotion)),
                    ("peers", JsonSerializer.Serialize(r.Peers)),
                },
        ];
        var sql = $"INSERT OR REPLACE INTO replication_records ({string.Join(", ", values.Select(v => v.Column))}) VALUES ({string.Join(", ", values.Select(v => "$" + v.Column))})";
        return (sql, values.Select(v => ("$" + v.Column, v.Value)).ToArray());
    }

    private static ReplicationRecord ReadReplication(SqliteDataReader r) => new()
    {
        Id = r.GetString(0),
        VolumeIds = JsonSerializer.Deserialize<string[]>(r.GetString(1))!,
        GroupName = r.IsDBNull(2) ? null : r.GetString(2),
        PeerAddress = r.IsDBNull(3) ? null : r.GetString(3),
        Mode = Enum.Parse<ReplicationModeKind>(r.GetString(4)),
        JournalBudgetBytes = r.IsDBNull(5) ? null : r.GetInt64(5),
        Role = Enum.Parse<ReplicationRole>(r.GetString(6)),
        SecondaryState = Enum.Parse<ReplicationState>(r.GetString(7)),
        CommonCutSequence = r.GetInt64(8),
        PromotionSnapshots = JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(9))!,
        ProtectionSnapshots = JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(10))!,
        Parameters = r.IsDBNull(11) ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(11)),
        Tls = r.IsDBNull(12) ? null : new SiteLinkPem(r.GetString(12), r.GetString(13), r.GetString(14)),
        Epoch = r.GetInt64(15),
        Fence = r.IsDBNull(16) ? null : JsonSerializer.Deserialize<ReplicationFence>(r.GetString(16)),
        Promotion = r.IsDBNull(17) ? null : JsonSerializer.Deserialize<PromotionOutcome>(r.GetString(17)),
        Peers = JsonSerializer.Deserialize<Dictionary<string, PeerIds>>(r.GetString(18))!,
    };

    private static object OrNull(string? value) => value is null ? DBNull.Value : value;
}
