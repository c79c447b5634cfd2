using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace CsiDriver.State;

/// <summary>
/// The driver's own state (names, arguments, attachments) in SQLite under the data directory.
/// The engine owns the data; this store owns what CSI needs to answer repeated and listing
/// calls.
///
/// Invariant with the engine: a row in <c>volumes</c> exists only while its engine volume
/// exists. CreateVolume creates the engine volume first and inserts the row second;
/// DeleteVolume deletes the row first and the engine volume second. So after a crash an engine
/// volume may exist with no row (an interrupted create or delete), never the reverse; the host
/// removes such leftovers at start (see <see cref="VolumeIds"/>).
/// </summary>
public sealed class StateStore : IDisposable
{
    private const int SchemaVersion = 1;
    private readonly SqliteConnection _connection;
    private readonly Lock _lock = new();

    private StateStore(SqliteConnection connection) => _connection = connection;

    public static StateStore Open(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        var store = new StateStore(connection);
        // WAL with synchronous=FULL: a committed change survives power loss; the mode cannot
        // be switched inside a transaction, so it is set on the bare connection.
        using (var pragma = store.Command("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"))
        {
            pragma.ExecuteNonQuery();
        }
        store.Migrate();
        return store;
    }

    private void Migrate()
    {
        var version = Convert.ToInt32(Scalar("PRAGMA user_version"), CultureInfo.InvariantCulture);
        if (version > SchemaVersion)
        {
            throw new InvalidOperationException($"state database schema {version} is newer than this csidriver understands ({SchemaVersion})");
        }
        if (version == SchemaVersion)
        {
            return;
        }
        Execute($"""
            CREATE TABLE volumes (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                capacity INTEGER NOT NULL,
                access_type TEXT NOT NULL,
                fs_type TEXT NOT NULL,
                parameters TEXT NOT NULL,
                mutable_parameters TEXT NOT NULL,
                source_kind TEXT NOT NULL,
                source_id TEXT NOT NULL,
                created_at TEXT NOT NULL);
            CREATE TABLE publications (
                volume_id TEXT NOT NULL REFERENCES volumes(id),
                node_id TEXT NOT NULL,
                read_only INTEGER NOT NULL,
                access_mode TEXT NOT NULL,
                PRIMARY KEY (volume_id, node_id));
            PRAGMA user_version = {SchemaVersion};
            """);
    }

    /// <summary>Ids of every volume with a row (see the invariant above).</summary>
    public IReadOnlySet<string> VolumeIds()
    {
        lock (_lock)
        {
            using var command = Command("SELECT id FROM volumes");
            using var reader = command.ExecuteReader();
            var ids = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read())
            {
                ids.Add(reader.GetString(0));
            }
            return ids;
        }
    }

    public VolumeRecord? FindVolume(string id) => QueryVolumes("WHERE id = $key", id).SingleOrDefault();

    public VolumeRecord? FindVolumeByName(string name) => QueryVolumes("WHERE name = $key", name).SingleOrDefault();

    /// <summary>Every volume, ordered by id (the order ListVolumes pages through).</summary>
    public IReadOnlyList<VolumeRecord> ListVolumes() => QueryVolumes("", null);

    public void InsertVolume(VolumeRecord v)
    {
        lock (_lock)
        {
            using var command = Command("""
                INSERT INTO volumes (id, name, capacity, access_type, fs_type, parameters, mutable_parameters, source_kind, source_id, created_at)
                VALUES ($id, $name, $capacity, $access, $fs, $params, $mutable, $skind, $sid, $created)
                """);
            command.Parameters.AddWithValue("$id", v.Id);
            command.Parameters.AddWithValue("$name", v.Name);
            command.Parameters.AddWithValue("$capacity", v.CapacityBytes);
            command.Parameters.AddWithValue("$access", v.AccessType.ToString());
            command.Parameters.AddWithValue("$fs", v.FsType);
            command.Parameters.AddWithValue("$params", JsonSerializer.Serialize(v.Parameters));
            command.Parameters.AddWithValue("$mutable", JsonSerializer.Serialize(v.MutableParameters));
            command.Parameters.AddWithValue("$skind", v.SourceKind);
            command.Parameters.AddWithValue("$sid", v.SourceId);
            command.Parameters.AddWithValue("$created", v.CreatedAt.ToString("o", CultureInfo.InvariantCulture));
            command.ExecuteNonQuery();
        }
    }

    /// <summary>Removes the volume's row and its publications in one transaction.</summary>
    public void DeleteVolume(string id) =>
        Execute("DELETE FROM publications WHERE volume_id = $key; DELETE FROM volumes WHERE id = $key;", id);

    public void UpdateCapacity(string id, long capacityBytes) =>
        Execute("UPDATE volumes SET capacity = $value WHERE id = $key", id, capacityBytes);

    public void UpdateMutableParameters(string id, IReadOnlyDictionary<string, string> parameters) =>
        Execute("UPDATE volumes SET mutable_parameters = $value WHERE id = $key", id, JsonSerializer.Serialize(parameters));

    public IReadOnlyList<PublicationRecord> Publications(string? volumeId = null)
    {
        lock (_lock)
        {
            using var command = Command("SELECT volume_id, node_id, read_only, access_mode FROM publications"
                + (volumeId is null ? "" : " WHERE volume_id = $key") + " ORDER BY volume_id, node_id");
            if (volumeId is not null)
            {
                command.Parameters.AddWithValue("$key", volumeId);
            }
            using var reader = command.ExecuteReader();
            var list = new List<PublicationRecord>();
            while (reader.Read())
            {
                list.Add(new PublicationRecord(reader.GetString(0), reader.GetString(1), reader.GetInt64(2) != 0, reader.GetString(3)));
            }
            return list;
        }
    }

    public void InsertPublication(PublicationRecord p)
    {
        lock (_lock)
        {
            using var command = Command("INSERT INTO publications (volume_id, node_id, read_only, access_mode) VALUES ($v, $n, $r, $m)");
            command.Parameters.AddWithValue("$v", p.VolumeId);
            command.Parameters.AddWithValue("$n", p.NodeId);
            command.Parameters.AddWithValue("$r", p.ReadOnly ? 1 : 0);
            command.Parameters.AddWithValue("$m", p.AccessMode);
            command.ExecuteNonQuery();
        }
    }

    public void DeletePublication(string volumeId, string nodeId) =>
        Execute("DELETE FROM publications WHERE volume_id = $key AND node_id = $value", volumeId, nodeId);

    public void Dispose() => _connection.Dispose();

    private List<VolumeRecord> QueryVolumes(string where, string? key)
    {
        lock (_lock)
        {
            using var command = Command($"""
                SELECT id, name, capacity, access_type, fs_type, parameters, mutable_parameters, source_kind, source_id, created_at
                FROM volumes {where} ORDER BY id
                """);
            if (key is not null)
            {
                command.Parameters.AddWithValue("$key", key);
            }
            using var reader = command.ExecuteReader();
            var list = new List<VolumeRecord>();
            while (reader.Read())
            {
                list.Add(new VolumeRecord
                {
                    Id = reader.GetString(0),
                    Name = reader.GetString(1),
                    CapacityBytes = reader.GetInt64(2),
                    AccessType = Enum.Parse<AccessType>(reader.GetString(3)),
                    FsType = reader.GetString(4),
                    Parameters = JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(5))!,
                    MutableParameters = JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(6))!,
                    SourceKind = reader.GetString(7),
                    SourceId = reader.GetString(8),
                    CreatedAt = DateTimeOffset.Parse(reader.GetString(9), CultureInfo.InvariantCulture),
                });
            }
            return list;
        }
    }

    private void Execute(string sql, string? key = null, object? value = null)
    {
        lock (_lock)
        {
            using var transaction = _connection.BeginTransaction();
            using var command = Command(sql);
            command.Transaction = transaction;
            if (key is not null)
            {
                command.Parameters.AddWithValue("$key", key);
            }
            if (value is not null)
            {
                command.Parameters.AddWithValue("$value", value);
            }
            command.ExecuteNonQuery();
            transaction.Commit();
        }
    }

    private object? Scalar(string sql)
    {
        lock (_lock)
        {
            using var command = Command(sql);
            return command.ExecuteScalar();
        }
    }

    private SqliteCommand Command(string sql)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        return command;
    }
}
