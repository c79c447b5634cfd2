using System.Runtime.Versioning;
using System.Text;
using CsiDriver.Engine;
using CsiDriver.Engine.Metadata;
using CsiDriver.Replication;
using CsiDriver.State;
using Microsoft.Data.Sqlite;

namespace CsiDriver.Tests.State;

/// <summary>The replication manager's records, the store's owner-only mode, and the steps from
/// schemas 1 and 2 (records in <c>replication.catalog</c>, parameters in a second table) and 3
/// (stagings of nbdfuse) and 5 (records without their peers' ids) to 6.</summary>
public sealed partial class StateStoreTests
{
    private static readonly SiteLinkPem Pem = new("-----BEGIN CERTIFICATE-----\nc\n", "-----BEGIN PRIVATE KEY-----\nk\n", "-----BEGIN CERTIFICATE-----\na\n");

    private static ReplicationRecord Replication(string id) => new()
    {
        Id = id,
        VolumeIds = ["sales", "stock"],
        GroupName = id,
        PeerAddress = "127.0.0.1:7443",
        JournalBudgetBytes = 64 << 20,
        Role = ReplicationRole.Primary,
        Parameters = new Dictionary<string, string> { ["peerAddress"] = "127.0.0.1:7443", ["mode"] = "group" },
        Tls = Pem,
    };

    [Fact]
    public void Replication_records_survive_reopening_whole()
    {
        using (var store = StateStore.Open(DatabasePath))
        {
            store.SaveReplication(Replication("vg-b"));
            store.SaveReplication(Replication("vg-a") with { Tls = null, Parameters = null, GroupName = null, PeerAddress = null, JournalBudgetBytes = null });
            store.SaveReplication(Replication("vg-b") with
            {
                Role = ReplicationRole.Secondary,
                SecondaryState = ReplicationState.AwaitingResync,
                CommonCutSequence = 42,
                ProtectionSnapshots = new Dictionary<string, string> { ["sales"] = "repl-protect-x-0" },
                Peers = new Dictionary<string, PeerIds> { ["sales"] = new("node-b", true), ["stock"] = new(null, false) },
            });
        }

        using var reopened = StateStore.Open(DatabasePath);
        var records = reopened.LoadReplications();
        Assert.Equal(["vg-a", "vg-b"], records.Select(r => r.Id));
        var a = records[0];
        Assert.Null(a.Tls);
        Assert.Null(a.Parameters);
        Assert.Null(a.GroupName);
        Assert.Null(a.PeerAddress);
        Assert.Null(a.JournalBudgetBytes);
        var b = records[1];
        Assert.Equal(ReplicationState.AwaitingResync, b.SecondaryState);
        Assert.Equal(42, b.CommonCutSequence);
        Assert.Equal("repl-protect-x-0", b.ProtectionSnapshots["sales"]);
        Assert.Equal(["sales", "stock"], b.VolumeIds);
        Assert.Equal(64 << 20, b.JournalBudgetBytes);
        Assert.Equal("group", b.Parameters!["mode"]);
        Assert.Equal(Pem, b.Tls);
        Assert.Equal(new Dictionary<string, PeerIds> { ["sales"] = new("node-b", true), ["stock"] = new(null, false) }, b.Peers);
        Assert.Empty(a.Peers);
    }

    [Fact]
    public void Removing_a_replication_twice_is_harmless()
    {
        using var store = StateStore.Open(DatabasePath);
        store.SaveReplication(Replication("vol-a"));

        store.RemoveReplication("vol-a");
        store.RemoveReplication("vol-a");

        Assert.Empty(store.LoadReplications());
    }

    [Fact]
    public void A_record_never_shows_its_tls()
    {
        Assert.DoesNotContain("PRIVATE KEY", Replication("vol-a").ToString(), StringComparison.Ordinal);
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public void The_store_is_owner_only_even_where_an_older_csidriver_left_it_readable()
    {
        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var store = StateStore.Open(DatabasePath))
        {
            store.SaveReplication(Replication("vol-a"));
            Assert.Equal(ownerOnly, File.GetUnixFileMode(DatabasePath));
            Assert.Equal(ownerOnly, File.GetUnixFileMode(DatabasePath + "-wal"));
        }
        File.SetUnixFileMode(DatabasePath, ownerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        using var reopened = StateStore.Open(DatabasePath);

        Assert.Equal(ownerOnly, File.GetUnixFileMode(DatabasePath));
    }

    [Fact]
    public void A_schema_2_store_takes_in_the_replication_catalog_and_its_enable_parameters()
    {
        using (var store = StateStore.Open(DatabasePath))
        {
            store.InsertVolume(Record("vol-a", "alpha"));
        }
        ToSchema2();
        RunRaw("""
            INSERT INTO replications VALUES ('orders', 'VolumeGroup', 'vr-1', '{"peerAddress":"10.0.0.2:7400"}', '2026-11-22T05:00:00Z');
            INSERT INTO replications VALUES ('interrupted', 'Volume', '', '{"peerAddress":"10.0.0.2:7400"}', '2026-11-22T05:00:00Z');
            """);
        // What csidriver wrote before schema 3: the engine's metadata frame around JSON records.
        MetadataFile.Write(Path.Combine(_directory, LegacyReplicationCatalog.FileName), LegacyReplicationCatalog.Magic, Encoding.UTF8.GetBytes("""
            [{"Id":"orders","VolumeIds":["sales","stock"],"GroupName":"orders","PeerAddress":"10.0.0.2:7400","Mode":"Group","JournalBudgetBytes":null,
              "Role":"Primary","SecondaryState":"Waiting","CommonCutSequence":0,"PromotionSnapshots":{},"ProtectionSnapshots":{}},
             {"Id":"solo","VolumeIds":["solo"],"GroupName":null,"PeerAddress":null,"Mode":"PerVolume","JournalBudgetBytes":1048576,
              "Role":"Secondary","SecondaryState":"Demoted","CommonCutSequence":7,"PromotionSnapshots":{"solo":"repl-promoted-x-0"},"ProtectionSnapshots":{}}]
            """));

        using (var upgraded = StateStore.Open(DatabasePath))
        {
            Assert.Equal("alpha", upgraded.FindVolume("vol-a")!.Name);
            var records = upgraded.LoadReplications();
            // The row of an enable a crash interrupted before its record is dropped; the CO's retry enables afresh.
            Assert.Equal(["orders", "solo"], records.Select(r => r.Id));
            Assert.Equal("10.0.0.2:7400", records[0].Parameters!["peerAddress"]);
            Assert.Equal(["sales", "stock"], records[0].VolumeIds);
            Assert.Null(records[1].Parameters);
            Assert.Equal(ReplicationState.Demoted, records[1].SecondaryState);
            Assert.Equal(ReplicationModeKind.PerVolume, records[1].Mode);
            Assert.Equal(1048576, records[1].JournalBudgetBytes);
            Assert.Equal("repl-promoted-x-0", records[1].PromotionSnapshots["solo"]);
            // Records from before epochs: epoch 0, which supersedes nobody; no fence.
            Assert.All(records, r => Assert.Equal((0L, (ReplicationFence?)null, (PromotionOutcome?)null), (r.Epoch, r.Fence, r.Promotion)));

            // Epoch, fence and promotion outcome are kept.
            var fenced = records[0] with { Epoch = 3, Fence = new ReplicationFence(4, "site 'b' takes over"), Promotion = new PromotionOutcome(true, true, 7) };
            upgraded.SaveReplication(fenced);
            var reloaded = upgraded.LoadReplications()[0];
            Assert.Equal((3L, fenced.Fence, fenced.Promotion), (reloaded.Epoch, reloaded.Fence, reloaded.Promotion));
        }
        Assert.Equal(6L, ScalarRaw("PRAGMA user_version"));
        Assert.Equal(0L, ScalarRaw("SELECT count(*) FROM sqlite_master WHERE name = 'replications'"));
        Assert.False(File.Exists(Path.Combine(_directory, LegacyReplicationCatalog.FileName)));
    }

    [Fact]
    public void A_damaged_replication_catalog_is_refused_and_the_store_stays_at_schema_2()
    {
        using (StateStore.Open(DatabasePath))
        {
        }
        ToSchema2();
        var catalog = Path.Combine(_directory, LegacyReplicationCatalog.FileName);
        MetadataFile.Write(catalog, LegacyReplicationCatalog.Magic, Encoding.UTF8.GetBytes("[]"));
        var bytes = File.ReadAllBytes(catalog);
        bytes[^1] ^= 0x20;
        File.WriteAllBytes(catalog, bytes);

        var refused = Assert.Throws<CorruptionException>(() => StateStore.Open(DatabasePath));

        Assert.Contains(LegacyReplicationCatalog.FileName, refused.Message, StringComparison.Ordinal);
        Assert.Equal(2L, ScalarRaw("PRAGMA user_version"));
        Assert.True(File.Exists(catalog));
    }

    [Fact]
    public void A_schema_1_file_keeps_its_rows_and_gains_replication_records()
    {
        using (var store = StateStore.Open(DatabasePath))
        {
            store.InsertVolume(Record("vol-a", "alpha"));
        }
        // What a csidriver from before replication left: no replication records, nbdfuse's staging columns.
        RunRaw("DROP TABLE replication_records; " + NbdfuseStagingColumns + " PRAGMA user_version = 1;");
        Assert.Equal(1L, ScalarRaw("PRAGMA user_version"));

        using (var upgraded = StateStore.Open(DatabasePath))
        {
            Assert.Equal("alpha", upgraded.FindVolume("vol-a")!.Name);
            upgraded.SaveReplication(Replication("vol-a"));
        }
        Assert.Equal(6L, ScalarRaw("PRAGMA user_version"));
        using var again = StateStore.Open(DatabasePath);
        Assert.Equal("vol-a", Assert.Single(again.LoadReplications()).Id);
    }

    [Fact]
    public void A_schema_3_file_keeps_its_stagings_and_loses_the_nbdfuse_columns()
    {
        var staging = new StagingRecord("vol-a", "/kubelet/globalmount", "/dev/loop3", "/data/attach/vol-a", AccessType.Mount, "ext4", ReadOnly: false);
        using (var store = StateStore.Open(DatabasePath))
        {
            store.InsertVolume(Record("vol-a", "alpha"));
            store.InsertStaging(staging);
        }
        // What a csidriver attaching through nbdfuse left: a helper's pid and a run's id per
        // staging; and replication records without the epoch columns of schema 5.
        RunRaw(NbdfuseStagingColumns + EpochlessReplicationRecords + " PRAGMA user_version = 3;");

        using (var upgraded = StateStore.Open(DatabasePath))
        {
            Assert.Equal(staging, upgraded.FindStaging("vol-a"));
        }
        Assert.Equal(6L, ScalarRaw("PRAGMA user_version"));
    }

    [Fact]
    public void A_schema_5_file_keeps_its_records_with_no_peers_known_until_saved_again()
    {
        using (var store = StateStore.Open(DatabasePath))
        {
            store.SaveReplication(Replication("orders"));
        }
        RunRaw(PeerlessReplicationRecords + " PRAGMA user_version = 5;");

        using (var upgraded = StateStore.Open(DatabasePath))
        {
            var record = Assert.Single(upgraded.LoadReplications());
            Assert.Equal(["sales", "stock"], record.VolumeIds);
            Assert.Empty(record.Peers);
            upgraded.SaveReplication(record with { Peers = new Dictionary<string, PeerIds> { ["sales"] = new("node-b", true) } });
        }
        Assert.Equal(6L, ScalarRaw("PRAGMA user_version"));
        using var again = StateStore.Open(DatabasePath);
        Assert.Equal(new PeerIds("node-b", true), Assert.Single(again.LoadReplications()).Peers["sales"]);
    }

    /// <summary>The store as a schema-2 csidriver left it: a table of enable parameters, the
    /// records elsewhere, nbdfuse's staging columns.</summary>
    private void ToSchema2() => RunRaw("""
        DROP TABLE replication_records;
        CREATE TABLE replications (id TEXT PRIMARY KEY, source_kind TEXT NOT NULL, co_replication_id TEXT NOT NULL, parameters TEXT NOT NULL, enabled_at TEXT NOT NULL);
        """ + NbdfuseStagingColumns + " PRAGMA user_version = 2;");

    private const string PeerlessReplicationRecords = "ALTER TABLE replication_records DROP COLUMN peers;";

    private const string EpochlessReplicationRecords = PeerlessReplicationRecords + """
        ALTER TABLE replication_records DROP COLUMN epoch;
        ALTER TABLE replication_records DROP COLUMN fence;
        ALTER TABLE replication_records DROP COLUMN promotion;
        """;

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
