using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

public sealed class VolumeExportCatalogTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("nbd-catalog-").FullName;
    private readonly StorageEngine _engine;

    public VolumeExportCatalogTests()
    {
        _engine = StorageEngine.Open(_directory);
        _engine.CreateVolume("b", 8192);
        _engine.CreateVolume("a", 4096);
    }

    public void Dispose()
    {
        _engine.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void Lists_every_volume_by_id_with_its_size()
    {
        var catalog = new VolumeExportCatalog(_engine, id => id == "b");
        Assert.Equal(
            [new NbdExportInfo("a", 4096, false, "volume"), new NbdExportInfo("b", 8192, true, "volume")],
            catalog.List());
    }

    [Fact]
    public async Task Opens_volumes_and_wraps_those_published_read_only()
    {
        var catalog = new VolumeExportCatalog(_engine, id => id == "b");
        Assert.Same(_engine.GetVolume("a"), catalog.Open("a"));
        var readOnly = catalog.Open("b")!;
        Assert.True(readOnly.IsReadOnly);
        await Assert.ThrowsAsync<ReadOnlyVolumeException>(async () => await readOnly.WriteAsync(0, new byte[4096], fua: false));
        Assert.Null(catalog.Open("missing"));
    }
}
