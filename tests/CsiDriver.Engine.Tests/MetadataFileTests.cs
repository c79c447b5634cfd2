using System.Buffers.Binary;
using CsiDriver.Engine.Metadata;

namespace CsiDriver.Engine.Tests;

public sealed class MetadataFileTests : IDisposable
{
    private const uint Magic = 0x54534554;
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void RoundTripsAndReplacesAtomically()
    {
        var path = Path.Combine(_directory.Path, "file");
        Assert.Null(MetadataFile.Read(path, Magic));
        MetadataFile.Write(path, Magic, [1, 2, 3]);
        MetadataFile.Write(path, Magic, [4, 5]);
        Assert.Equal([4, 5], MetadataFile.Read(path, Magic));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    [InlineData(13)]
    [InlineData(17)]
    public void AnyFlippedBitIsCorruption(int byteIndex)
    {
        var path = Path.Combine(_directory.Path, "file");
        MetadataFile.Write(path, Magic, [1, 2, 3, 4]);
        var bytes = File.ReadAllBytes(path);
        bytes[byteIndex] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        Assert.Throws<CorruptionException>(() => MetadataFile.Read(path, Magic));
    }

    [Fact]
    public void RefusesANewerIncompatibleVersion()
    {
        var path = Path.Combine(_directory.Path, "file");
        MetadataFile.Write(path, Magic, [1]);
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(6), MetadataFile.Version + 1);
        Assert.False(MetadataFile.TryParse(bytes, Magic, out _, out var error));
        Assert.Contains("version", error);
    }
}
