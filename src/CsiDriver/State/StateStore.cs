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
public sealed partial class StateStore : IDisposable
{
    /// <summary>The schema this csidriver writes: one version per migration step.</summary>
    private static int SchemaVersion => MigrationSteps.Length;

    private readonly SqliteConnection _connection;
    private readonly Lock _lock = new();

    private StateStore(SqliteConnection connection) => _connection = connection;

    public static StateStore Open(string path)
    {
        KeepOwnerOnly(path);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        var store = new StateStore(connection);
        try
        {
            // WAL with synchronous=FULL: a committed change survives power loss; the mode cannot
            // be switched inside a transaction, so it is set on the bare connection.
            using (var pragma = store.Command("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"))
            {
                pragma.ExecuteNonQuery();
            }
            store.Migrate(Path.GetDirectoryName(Path.GetFullPath(path))!);
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The store holds the site-link keys replications were given in their secrets, so only its
    /// owner may read it: created so, and narrowed where an older csidriver left it wider. SQLite
    /// creates its -wal and -shm files with the database file's mode.
    /// </summary>
    private static void KeepOwnerOnly(string path)
    {
        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        if (OperatingSystem.IsWindows())
        {
            return; // no Unix modes; csidriver serves Linux nodes
        }
        if (!File.Exists(path))
        {
            using var created = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = ownerOnly });
        }
        foreach (var file in new[] { path, path + "-wal", path + "-shm" }.Where(File.Exists))
        {
            File.SetUnixFileMode(file, ownerOnly);
        }
    }

    /// <summary>
    /// Brings the schema from the version the file has (PRAGMA user_version; 0 for a new file) up
    /// to <see cref="SchemaVersion"/>, one step per version, all steps and the new version in one
    /// transaction: a crash part way leaves the file at its old version, and the next start
    /// repeats the steps. A file from a newer csidriver is refused rather than guessed at. A file
    /// a step took in is deleted only once the new version is committed.
    /// </summary>
    private void Migrate(string dataDirectory)
    {
        var version = Convert.ToInt32(Scalar("PRAGMA user_version"), CultureInfo.InvariantCulture);
        if (version > SchemaVersion)
        {
            throw new InvalidOperationException($"state database schema {version} is newer than this csidriver understands ({SchemaVersion})");
        }
        if (version < SchemaVersion)
        {
            var steps = MigrationSteps.Skip(version).SelectMany(step => step(this, dataDirectory)).ToList();
            ExecuteAll([.. steps, ($"PRAGMA user_version = {SchemaVersion}", [])]);
        }
        LegacyReplicationCatalog.DeleteTakenIn(dataDirectory);
    }

    /// <summary>Step i takes the schema from version i to i + 1: the statements it runs, given
    /// the data directory (a step may take in a file an older csidriver kept there).</summary>
    private static readonly Func<StateStore, string, IEnumerable<(string Sql, (string Name, object Value)[] Parameters)>>[] MigrationSteps =
    [
        (_, _) => [(InitialSchema, [])],
        (_, _) => [(ReplicationRequestSchema, [])],
        (store, dataDirectory) => store.ReplicationRecordsStep(dataDirectory),
        (_, _) => [(StagingsWithoutHelperSchema, [])],
        (_, _) => [(ReplicationEpochsSchema, [])],
        (_, _) => [(ReplicationPeersSchema, [])],
    ];

    private const string InitialSchema = """
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
            CREATE TABLE snapshots (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                source_volume_id TEXT NOT NULL,
                size INTEGER NOT NULL,
                created_at TEXT NOT NULL,
                group_snapshot_id TEXT NOT NULL);
            CREATE TABLE group_snapshots (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL);
            CREATE TABLE stagings (
                volume_id TEXT PRIMARY KEY,
                staging_path TEXT NOT NULL,
                device TEXT NOT NULL,
                fuse_directory TEXT NOT NULL,
                helper_pid INTEGER NOT NULL,
                server_instance TEXT NOT NULL,
                access_type TEXT NOT NULL,
                fs_type TEXT NOT NULL,
                read_only INTEGER NOT NULL);
            CREATE TABLE node_publications (
                target_path TEXT PRIMARY KEY,
                volume_id TEXT NOT NULL,
                read_only INTEGER NOT NULL);
            CREATE TABLE volume_groups (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                parameters TEXT NOT NULL,
                pending_volume_ids TEXT,
                created_at TEXT NOT NULL);
        """;

    // Attachments are FUSE sessions csidriver serves itself (issue 15): no helper process, and
    // no tie to one csidriver run, since the session holder keeps them across restarts. An
    // nbdfuse staging from before the upgrade keeps its row and is reported lost until it is
    // staged again.
    private const string StagingsWithoutHelperSchema = """
            ALTER TABLE stagings DROP COLUMN helper_pid;
            ALTER TABLE stagings DROP COLUMN server_instance;
        """;

    /// <summary>Ids of every volume with a row (see the invariant above).</summary>
    public IReadOnlySet<string> VolumeIds() =>
        Query("SELECT id FROM volumes", r => r.GetString(0)).ToHashSet(StringComparer.Ordinal);

    public VolumeRecord? FindVolume(string id) => QueryVolumes("WHERE id = $key", ("$key", id)).SingleOrDefault();

    public VolumeRecord? FindVolumeByName(string name) => QueryVolumes("WHERE name = $key", ("$key", name)).SingleOrDefault();

    /// <summary>Every volume, ordered by id (the order ListVolumes pages through).</summary>
    public IReadOnlyList<VolumeRecord> ListVolumes() => QueryVolumes("");

    public void InsertVolume(VolumeRecord v) => Execute("""
        INSERT INTO volumes (id, name, capacity, access_type, fs_type, parameters, mutable_parameters, source_kind, source_id, created_at)
        VALUES ($id, $name, $capacity, $access, $fs, $params, $mutable, $skind, $sid, $created)
        """,
        ("$id", v.Id), ("$name", v.Name), ("$capacity", v.CapacityBytes), ("$access", v.AccessType.ToString()), ("$fs", v.FsType),
        ("$params", JsonSerializer.Serialize(v.Parameters)), ("$mutable", JsonSerializer.Serialize(v.MutableParameters)),
        ("$skind", v.SourceKind), ("$sid", v.SourceId), ("$created", v.CreatedAt.ToString("o", CultureInfo.InvariantCulture)));

    /// <summary>Removes the volume's row and its publications in one transaction.</summary>
    public void DeleteVolume(string id) =>
        Execute("DELETE FROM publications WHERE volume_id = $id; DELETE FROM volumes WHERE id = $id;", ("$id", id));

    public void UpdateCapacity(string id, long capacityBytes) =>
        Execute("UPDATE volumes SET capacity = $capacity WHERE id = $id", ("$id", id), ("$capacity", capacityBytes));

    public void UpdateMutableParameters(string id, IReadOnlyDictionary<string, string> parameters) =>
        Execute("UPDATE volumes SET mutable_parameters = $mutable WHERE id = $id", ("$id", id), ("$mutable", JsonSerializer.Serialize(parameters)));

    public IReadOnlyList<PublicationRecord> Publications(string? volumeId = null) =>
        Query("SELECT volume_id, node_id, read_only, access_mode FROM publications"
            + (volumeId is null ? "" : " WHERE volume_id = $id") + " ORDER BY volume_id, node_id",
            r => new PublicationRecord(r.GetString(0), r.GetString(1), r.GetInt64(2) != 0, r.GetString(3)),
            volumeId is null ? [] : [("$id", volumeId)]);

    public void InsertPublication(PublicationRecord p) =>
        Execute("INSERT INTO publications (volume_id, node_id, read_only, access_mode) VALUES ($v, $n, $r, $m)",
            ("$v", p.VolumeId), ("$n", p.NodeId), ("$r", p.ReadOnly ? 1 : 0), ("$m", p.AccessMode));

    public void DeletePublication(string volumeId, string nodeId) =>
        Execute("DELETE FROM publications WHERE volume_id = $v AND node_id = $n", ("$v", volumeId), ("$n", nodeId));

    public void Dispose() => _connection.Dispose();

    private List<VolumeRecord> QueryVolumes(string where, params (string Name, object Value)[] parameters) =>
        Query($"""
            SELECT id, name, capacity, access_type, fs_type, parameters, mutable_parameters, source_kind, source_id, created_at
            FROM volumes {where} ORDER BY id
            """,
            r => new VolumeRecord
            {
                Id = r.GetString(0),
                Name = r.GetString(1),
                CapacityBytes = r.GetInt64(2),
                AccessType = Enum.Parse<AccessType>(r.GetString(3)),
                FsType = r.GetString(4),
                Parameters = JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(5))!,
                MutableParameters = JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(6))!,
                SourceKind = r.GetString(7),
                SourceId = r.GetString(8),
                CreatedAt = DateTimeOffset.Parse(r.GetString(9), CultureInfo.InvariantCulture),
            },
            parameters);

    private List<T> Query<T>(string sql, Func<SqliteDataReader, T> map, params (string Name, object Value)[] parameters)
    {
        lock (_lock)
        {
            using var command = Command(sql);
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value);
            }
            using var reader = command.ExecuteReader();
            var list = new List<T>();
            while (reader.Read())
            {
                list.Add(map(reader));
            }
            return list;
        }
    }

    /// <summary>Runs <paramref name="sql"/> in one transaction.</summary>
    private void Execute(string sql, params (string Name, object Value)[] parameters) => ExecuteAll([(sql, parameters)]);

    /// <summary>Runs the statements in one transaction: all take effect or none.</summary>
    private void ExecuteAll(IEnumerable<(string Sql, (string Name, object Value)[] Parameters)> statements)
    {
        lock (_lock)
        {
            using var transaction = _connection.BeginTransaction();
            foreach (var (sql, parameters) in statements)
            {
                using var command = Command(sql);
                command.Transaction = transaction;
                foreach (var (name, value) in parameters)
                {
                    command.Parameters.AddWithValue(name, value);
                }
                command.ExecuteNonQuery();
            }
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
