using CsiDriver.State;
using Microsoft.Data.Sqlite;

namespace CsiDriver.Tests.State;

/// <summary>Replication rows, and the steps from schema 1 (before replication) and 2 (stagings
/// of nbdfuse) to the current one.</summary>
public sealed partial class StateStoreTests
{
    private static EnabledReplicationRecord Replication(string id) => new(
        id,
        ReplicationSourceKind.VolumeGroup,
        "vr-orders",
        new Dictionary<string, string> { ["peerAddress"] = "127.0.0.1:7443", ["mode"] = "group" },
        DateTimeOffset.Parse("2026-11-22T05:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public void Replications_survive_reopening()
    {
        using (var store = StateStore.Open(DatabasePath))
        {
            store.InsertReplication(Replication("vg-b"));
            store.InsertReplication(Replication("vg-a"));
        }

        using var reopened = StateStore.Open(DatabasePath);
        Assert.Equal(["vg-a", "vg-b"], reopened.ListReplications().Select(r => r.Id));
        var b = reopened.FindReplication("vg-b")!;
        Assert.Equal(ReplicationSourceKind.VolumeGroup, b.SourceKind);
        Assert.Equal("vr-orders", b.CoReplicationId);
        Assert.Equal("127.0.0.1:7443", b.Parameters["peerAddress"]);
        Assert.Equal(Replication("vg-b").EnabledAt, b.EnabledAt);
    }

    [Fact]
    public void One_row_per_id_and_deleting_twice_is_harmless()
    {
        using var store = StateStore.Open(DatabasePath);
        store.InsertReplication(Replication("vol-a"));
        Assert.ThrowsAny<SqliteException>(() => store.InsertReplication(Replication("vol-a")));
        Assert.Single(store.ListReplications());

        store.DeleteReplication("vol-a");
        Assert.Null(store.FindReplication("vol-a"));
        store.DeleteReplication("vol-a");
    }

    [Fact]
    public void A_schema_1_file_keeps_its_rows_and_gains_replications()
    {
        using (var store = StateStore.Open(DatabasePath))
        {
            store.InsertVolume(Record("vol-a", "alpha"));
        }
        // What a csidriver from before replication left: no replications, nbdfuse's staging columns.
        RunRaw("DROP TABLE replications; " + NbdfuseStagingColumns + " PRAGMA user_version = 1;");
        Assert.Equal(1L, ScalarRaw("PRAGMA user_version"));

        using (var upgraded = StateStore.Open(DatabasePath))
        {
            Assert.Equal("alpha", upgraded.FindVolume("vol-a")!.Name);
            upgraded.InsertReplication(Replication("vol-a"));
        }
        Assert.Equal(3L, ScalarRaw("PRAGMA user_version"));
        using var again = StateStore.Open(DatabasePath);
        Assert.Equal("vol-a", Assert.Single(again.ListReplications()).Id);
    }

    [Fact]
    public void A_schema_2_file_keeps_its_stagings_and_loses_the_nbdfuse_columns()
    {
        var staging = new StagingRecord("vol-a", "/kubelet/globalmount", "/dev/loop3", "/data/attach/vol-a", AccessType.Mount, "ext4", ReadOnly: false);
        using (var store = StateStore.Open(DatabasePath))
        {
            store.InsertVolume(Record("vol-a", "alpha"));
            store.InsertStaging(staging);
        }
        // What a csidriver attaching through nbdfuse left: a helper's pid and a run's id per staging.
        RunRaw(NbdfuseStagingColumns + " PRAGMA user_version = 2;");

        using (var upgraded = StateStore.Open(DatabasePath))
        {
            Assert.Equal(staging, upgraded.FindStaging("vol-a"));
        }
        Assert.Equal(3L, ScalarRaw("PRAGMA user_version"));
    }

    private const string NbdfuseStagingColumns =
        "ALTER TABLE stagings ADD COLUMN helper_pid INTEGER NOT NULL DEFAULT 0; ALTER TABLE stagings ADD COLUMN server_instance TEXT NOT NULL DEFAULT '';";

    private void RunRaw(string sql)
    {
        using var raw = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        raw.Open();
        using var command = raw.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private object? ScalarRaw(string sql)
    {
        using var raw = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        raw.Open();
        using var command = raw.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
