using Xunit.Abstractions;

namespace CsiDriver.Engine.Tests;

public sealed partial class StorageEngineTests(ITestOutputHelper output) : IDisposable
{
    private const int Chunk = ChunkRange.ChunkSize;
    private readonly TempDirectory _directory = new();

    private static readonly EngineOptions Manual = new() { BackgroundCheckpoints = false };

    public void Dispose() => _directory.Dispose();

    private StorageEngine Open(EngineOptions? options = null) => StorageEngine.Open(_directory.Path, options ?? Manual);

    [Fact]
    public void WritesReadBackAndSurviveReopen()
    {
        var data = Bytes.Pattern(3 * 4096, 1);
        using (var engine = Open())
        {
            var volume = engine.CreateVolume("v1", 1 << 20);
            Bytes.Write(volume, Chunk - 4096, data);
            Assert.Equal(data, Bytes.Read(volume, Chunk - 4096, data.Length));
            Assert.Equal(new byte[4096], Bytes.Read(volume, 0, 4096));
            Assert.Equal(2L * Chunk, volume.AllocatedBytes);
        }
        using (var engine = Open())
        {
            var volume = engine.GetVolume("v1");
            Assert.Equal(1 << 20, volume.Size);
            Assert.Equal(data, Bytes.Read(volume, Chunk - 4096, data.Length));
        }
    }

    [Fact]
    public void UnflushedWritesSurviveProcessCrashThroughReplay()
    {
        var data = Bytes.Pattern(8192, 2);
        var engine = Open();
        var volume = engine.CreateVolume("v1", 1 << 20);
        Bytes.Write(volume, 4096, data);
        engine.CloseWithoutCheckpoint();
        using var reopened = Open();
        Assert.Equal(1, reopened.Recovery.Sum(r => r.ReplayedRecords));
        Assert.Equal(data, Bytes.Read(reopened.GetVolume("v1"), 4096, data.Length));
    }

    [Fact]
    public void RejectsBadIdsRangesAndDuplicates()
    {
        using var engine = Open();
        Assert.Throws<ArgumentException>(() => engine.CreateVolume("bad/id", 4096));
        Assert.Throws<ArgumentException>(() => engine.CreateVolume("ok", 4096, "bad group"));
        Assert.Throws<OutOfRangeException>(() => engine.CreateVolume("odd", 4097));
        var volume = engine.CreateVolume("v", 8192);
        Assert.Throws<VolumeExistsException>(() => engine.CreateVolume("v", 8192));
        Assert.Throws<OutOfRangeException>(() => Bytes.Write(volume, 4096, new byte[8192]));
        Assert.Throws<OutOfRangeException>(() => engine.ExpandVolume("v", 4096));
        Assert.Throws<VolumeNotFoundException>(() => engine.GetVolume("nope"));
        Assert.False(engine.DeleteVolume("nope"));
    }
}
