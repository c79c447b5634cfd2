using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

public sealed class ReadOnlyBlockDeviceTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("nbd-readonly-").FullName;
    private readonly StorageEngine _engine;

    public ReadOnlyBlockDeviceTests()
    {
        _engine = StorageEngine.Open(_directory);
        _engine.CreateVolume("v", 8192);
    }

    public void Dispose()
    {
        _engine.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Reads_through_and_refuses_every_change()
    {
        var volume = _engine.GetVolume("v");
        var data = NbdTestEnvironment.RandomBytes(8192, seed: 1);
        await volume.WriteAsync(0, data, fua: false);
        var view = new ReadOnlyBlockDevice(volume);
        Assert.Equal(("v", 8192L, true), (view.Name, view.Size, view.IsReadOnly));

        var read = new byte[8192];
        await view.ReadAsync(0, read);
        Assert.Equal(data, read);
        await view.FlushAsync();
        await Assert.ThrowsAsync<ReadOnlyVolumeException>(async () => await view.WriteAsync(0, new byte[4096], fua: true));
        await Assert.ThrowsAsync<ReadOnlyVolumeException>(async () => await view.TrimAsync(0, 4096));
        await Assert.ThrowsAsync<ReadOnlyVolumeException>(async () => await view.WriteZeroesAsync(0, 4096, fua: false));

        await volume.ReadAsync(0, read);
        Assert.Equal(data, read);
    }
}
