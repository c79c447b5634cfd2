using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

public sealed class NbdCompositeExportCatalogTests : IDisposable
{
    private readonly string _first = Directory.CreateTempSubdirectory("nbd-composite-").FullName;
    private readonly string _second = Directory.CreateTempSubdirectory("nbd-composite-").FullName;
    private readonly StorageEngine _main;
    private readonly StorageEngine _replicas;

    public NbdCompositeExportCatalogTests()
    {
        _main = StorageEngine.Open(_first);
        _replicas = StorageEngine.Open(_second);
        _main.CreateVolume("shared", 4096);
        _main.CreateVolume("main-only", 4096);
        _replicas.CreateVolume("shared", 8192);
        _replicas.CreateVolume("replica-only", 8192);
    }

    public void Dispose()
    {
        _main.Dispose();
        _replicas.Dispose();
        Directory.Delete(_first, recursive: true);
        Directory.Delete(_second, recursive: true);
    }

    [Fact]
    public void The_first_catalog_that_knows_a_name_wins()
    {
        var catalog = new NbdCompositeExportCatalog(new VolumeExportCatalog(_main), new VolumeExportCatalog(_replicas, _ => true));
        Assert.Equal(["main-only", "shared", "replica-only"], catalog.List().Select(e => e.Name));
        Assert.Equal(4096, catalog.List().Single(e => e.Name == "shared").Size);
        Assert.Same(_main.GetVolume("shared"), catalog.Open("shared"));
        Assert.True(catalog.Open("replica-only")!.IsReadOnly);
        Assert.Null(catalog.Open("nowhere"));
    }
}
