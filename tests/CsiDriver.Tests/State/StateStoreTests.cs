using CsiDriver.State;

namespace CsiDriver.Tests.State;

public sealed partial class StateStoreTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("formation-state-").FullName;

    private string DatabasePath => Path.Combine(_directory, "state.db");

    private static VolumeRecord Record(string id, string name) => new()
    {
        Id = id,
        Name = name,
        CapacityBytes = 8192,
        AccessType = AccessType.Mount,
        FsType = "xfs",
        Parameters = new Dictionary<string, string> { ["csi.storage.k8s.io/pvc/name"] = "data" },
        CreatedAt = DateTimeOffset.Parse("2026-11-22T03:00:00Z", System.Globalization.CultureInfo.InvariantCulture),
    };

    [Fact]
    public void Volumes_and_publications_survive_reopening()
    {
        using (var store = StateStore.Open(DatabasePath))
        {
            store.InsertVolume(Record("vol-b", "beta"));
            store.InsertVolume(Record("vol-a", "alpha"));
            store.InsertPublication(new PublicationRecord("vol-a", "node-1", true, "SingleNodeReaderOnly"));
            store.UpdateCapacity("vol-b", 16384);
            store.UpdateMutableParameters("vol-b", new Dictionary<string, string> { ["k"] = "v" });
        }

        using var reopened = StateStore.Open(DatabasePath);
        Assert.Equal(["vol-a", "vol-b"], reopened.ListVolumes().Select(v => v.Id));
        var beta = reopened.FindVolumeByName("beta")!;
        Assert.Equal(16384, beta.CapacityBytes);
        Assert.Equal("v", beta.MutableParameters["k"]);
        Assert.Equal("xfs", beta.FsType);
        Assert.Equal("data", beta.Parameters["csi.storage.k8s.io/pvc/name"]);
        Assert.Equal(Record("vol-a", "alpha").CreatedAt, reopened.FindVolume("vol-a")!.CreatedAt);
        Assert.Equal([new PublicationRecord("vol-a", "node-1", true, "SingleNodeReaderOnly")], reopened.Publications("vol-a"));
    }

    [Fact]
    public void Deleting_a_volume_removes_its_publications()
    {
        using var store = StateStore.Open(DatabasePath);
        store.InsertVolume(Record("vol-a", "alpha"));
        store.InsertPublication(new PublicationRecord("vol-a", "node-1", false, "SingleNodeWriter"));
        store.DeleteVolume("vol-a");
        Assert.Null(store.FindVolume("vol-a"));
        Assert.Empty(store.Publications());
        Assert.Empty(store.VolumeIds());
    }

    [Fact]
    public void Names_are_unique()
    {
        using var store = StateStore.Open(DatabasePath);
        store.InsertVolume(Record("vol-a", "alpha"));
        Assert.ThrowsAny<Microsoft.Data.Sqlite.SqliteException>(() => store.InsertVolume(Record("vol-b", "alpha")));
        Assert.Single(store.ListVolumes());
    }

    [Fact]
    public void A_newer_schema_is_refused()
    {
        using (var store = StateStore.Open(DatabasePath))
        {
            store.InsertVolume(Record("vol-a", "alpha"));
        }
        using (var raw = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            raw.Open();
            using var command = raw.CreateCommand();
            command.CommandText = "PRAGMA user_version = 99";
            command.ExecuteNonQuery();
        }
        var error = Assert.Throws<InvalidOperationException>(() => StateStore.Open(DatabasePath));
        Assert.Contains("99", error.Message);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
