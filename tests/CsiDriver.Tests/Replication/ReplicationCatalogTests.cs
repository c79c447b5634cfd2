using CsiDriver.Replication;

namespace CsiDriver.Tests.Replication;

public sealed class ReplicationCatalogTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("formation-catalog-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Records_survive_reopening()
    {
        var catalog = ReplicationCatalog.Open(_directory);
        catalog.Save(new ReplicationRecord { Id = "orders", VolumeIds = ["sales", "stock"], GroupName = "orders", PeerAddress = "10.0.0.2:7400", Role = ReplicationRole.Primary });
        catalog.Save(new ReplicationRecord
        {
            Id = "solo",
            VolumeIds = ["solo"],
            Role = ReplicationRole.Primary,
            CommonCutSequence = 42,
            PromotionSnapshots = new Dictionary<string, string> { ["solo"] = "repl-promoted-x-0" },
        });
        catalog.Save(catalog.Find("solo")! with { Role = ReplicationRole.Secondary, SecondaryState = ReplicationState.Demoted });
        catalog.Remove("nothing");

        var reopened = ReplicationCatalog.Open(_directory);
        Assert.Equal(["orders", "solo"], reopened.All.Select(r => r.Id).Order());
        var solo = reopened.Find("solo")!;
        Assert.Equal(ReplicationState.Demoted, solo.SecondaryState);
        Assert.Equal(42, solo.CommonCutSequence);
        Assert.Equal("repl-promoted-x-0", solo.PromotionSnapshots["solo"]);
        Assert.Equal(["sales", "stock"], reopened.Find("orders")!.VolumeIds);
    }

    [Fact]
    public void A_damaged_or_newer_file_is_refused_with_its_reason()
    {
        var file = ReplicationCatalog.Write([new ReplicationRecord { Id = "orders", VolumeIds = ["sales"] }]);
        Assert.True(ReplicationCatalog.TryParse(file, out var records, out _));
        Assert.Single(records);

        var flipped = file.ToArray();
        flipped[^2] ^= 0x20;
        Assert.False(ReplicationCatalog.TryParse(flipped, out _, out var problem));
        Assert.Contains("checksum", problem, StringComparison.Ordinal);

        var newer = file.ToArray();
        newer[6] = 9; // minimum compatible version 9
        Assert.False(ReplicationCatalog.TryParse(newer, out _, out problem));
        Assert.Contains("newer", problem, StringComparison.Ordinal);

        Assert.False(ReplicationCatalog.TryParse(file.AsSpan(0, 10), out _, out problem));
        File.WriteAllBytes(Path.Combine(_directory, ReplicationCatalog.FileName), flipped);
        Assert.Throws<InvalidDataException>(() => ReplicationCatalog.Open(_directory));
    }
}
