using System.Globalization;

namespace CsiDriver.Engine.Tests;

public sealed partial class StorageEngineTests
{
    private static byte[] Image(int chunks, params (int Chunk, int Seed)[] writes)
    {
        var image = new byte[chunks * Chunk];
        foreach (var (chunk, seed) in writes)
        {
            Bytes.Pattern(Chunk, seed).CopyTo(image, chunk * Chunk);
        }
        return image;
    }

    [Fact]
    public void SnapshotKeepsItsImageWhileTheVolumeChanges()
    {
        using var engine = Open();
        var volume = engine.CreateVolume("v", 4 * Chunk);
        Bytes.Write(volume, 0, Bytes.Pattern(Chunk, 1));
        var snapshot = engine.CreateSnapshot("v", "s");
        Assert.Equal(("v", 4L * Chunk), (snapshot.VolumeId, snapshot.SizeBytes));
        var device = engine.OpenSnapshot("s");
        Bytes.Write(volume, 100, Bytes.Pattern(50, 2));
        Bytes.Write(volume, 2 * Chunk, Bytes.Pattern(Chunk, 3));
        Assert.Equal(Image(4, (0, 1)), Bytes.ReadAll(device));
        Assert.True(device.IsReadOnly);
        Assert.Throws<ReadOnlyVolumeException>(() => Bytes.Write(device, 0, new byte[4096]));
        Assert.Throws<SnapshotExistsException>(() => engine.CreateSnapshot("v", "s"));
    }

    [Theory]
    [InlineData(0, 1, 2)]
    [InlineData(2, 1, 0)]
    [InlineData(1, 0, 2)]
    [InlineData(1, 2, 0)]
    public void SnapshotsDeleteInAnyOrderLeavingTheOthersIntact(int first, int second, int third)
    {
        using var engine = Open();
        var volume = engine.CreateVolume("v", 4 * Chunk);
        var images = new List<byte[]>();
        for (var i = 0; i < 3; i++)
        {
            Bytes.Write(volume, i * Chunk, Bytes.Pattern(Chunk, 10 + i));
            Bytes.Write(volume, 3 * Chunk, Bytes.Pattern(Chunk, 20 + i));
            engine.CreateSnapshot("v", "s" + i);
            images.Add(Bytes.ReadAll(volume));
        }
        var live = Bytes.ReadAll(volume);
        var remaining = new HashSet<int> { 0, 1, 2 };
        foreach (var victim in new[] { first, second, third })
        {
            Assert.True(engine.DeleteSnapshot("s" + victim));
            remaining.Remove(victim);
            foreach (var kept in remaining)
            {
                Assert.Equal(images[kept], Bytes.ReadAll(engine.OpenSnapshot("s" + kept)));
            }
            Assert.Equal(live, Bytes.ReadAll(volume));
        }
        Assert.False(engine.DeleteSnapshot("s" + first));
        // Every deleted snapshot's layer merged away or freed: the volume reads through at most its base.
        Assert.True(Directory.GetFiles(Path.Combine(_directory.Path, "layers"), "*.data").Length <= 2);
    }

    [Fact]
    public void DeletingAVolumeKeepsItsSnapshotsAndClonesReadable()
    {
        using (var engine = Open())
        {
            var volume = engine.CreateVolume("v", 2 * Chunk);
            Bytes.Write(volume, 0, Bytes.Pattern(2 * Chunk, 1));
            engine.CreateSnapshot("v", "s");
            engine.CloneVolume("c", "v", 2 * Chunk);
            Bytes.Write(volume, 0, Bytes.Pattern(Chunk, 2));
            Assert.True(engine.DeleteVolume("v"));
            Assert.Equal(Bytes.Pattern(2 * Chunk, 1), Bytes.ReadAll(engine.OpenSnapshot("s")));
            Assert.Equal(Bytes.Pattern(2 * Chunk, 1), Bytes.ReadAll(engine.GetVolume("c")));
        }
        using (var engine = Open())
        {
            Assert.Equal("v", engine.FindSnapshot("s")!.VolumeId);
            Assert.Equal(Bytes.Pattern(2 * Chunk, 1), Bytes.ReadAll(engine.OpenSnapshot("s")));
            Assert.True(engine.DeleteSnapshot("s"));
            Assert.Equal(Bytes.Pattern(2 * Chunk, 1), Bytes.ReadAll(engine.GetVolume("c")));
        }
    }

    [Fact]
    public void ClonesAreWritableAndIndependentOfTheirSource()
    {
        using var engine = Open();
        var volume = engine.CreateVolume("v", 2 * Chunk);
        Bytes.Write(volume, 0, Bytes.Pattern(2 * Chunk, 1));
        engine.CreateSnapshot("v", "s");
        var fromSnapshot = engine.CreateVolumeFromSnapshot("a", "s", 3 * Chunk, "g");
        var clone = engine.CloneVolume("b", "v", 2 * Chunk);
        Assert.Equal(0, fromSnapshot.AllocatedBytes);
        Bytes.Write(fromSnapshot, 10, [7, 7, 7]);
        Bytes.Write(clone, Chunk, Bytes.Pattern(Chunk, 5));
        Bytes.Write(volume, 0, Bytes.Pattern(Chunk, 6));

        var expectedA = new byte[3 * Chunk];
        Bytes.Pattern(2 * Chunk, 1).CopyTo(expectedA, 0);
        expectedA[10] = expectedA[11] = expectedA[12] = 7;
        Assert.Equal(expectedA, Bytes.ReadAll(fromSnapshot));
        Assert.Equal([.. Bytes.Pattern(2 * Chunk, 1)[..Chunk], .. Bytes.Pattern(Chunk, 5)], Bytes.ReadAll(clone));
        Assert.Equal([.. Bytes.Pattern(Chunk, 6), .. Bytes.Pattern(2 * Chunk, 1)[Chunk..]], Bytes.ReadAll(volume));
        Assert.Equal("g", fromSnapshot.ConsistencyGroup);
        Assert.Throws<OutOfRangeException>(() => engine.CreateVolumeFromSnapshot("small", "s", Chunk));
        Assert.Throws<SnapshotNotFoundException>(() => engine.CreateVolumeFromSnapshot("x", "nope", 2 * Chunk));
    }

    [Fact]
    public async Task TrimReleasesSpaceAndHidesOlderData()
    {
        using var engine = Open();
        var volume = engine.CreateVolume("v", 4 * Chunk);
        Bytes.Write(volume, 0, Bytes.Pattern(4 * Chunk, 1));
        Assert.Equal(4L * Chunk, volume.AllocatedBytes);
        await volume.TrimAsync(0, 2 * Chunk);
        Assert.Equal(2L * Chunk, volume.AllocatedBytes);
        engine.CreateSnapshot("v", "s");
        await volume.WriteZeroesAsync(2 * Chunk, Chunk, fua: true);
        Assert.Equal(new byte[3 * Chunk], Bytes.Read(volume, 0, 3 * Chunk));
        Assert.Equal(Bytes.Pattern(4 * Chunk, 1)[(2 * Chunk)..], Bytes.Read(engine.OpenSnapshot("s"), 2 * Chunk, 2 * Chunk));
    }

    [Fact]
    public void ExpandedVolumeReadsZeroesInItsNewPartAndKeepsSize()
    {
        using (var engine = Open())
        {
            var volume = engine.CreateVolume("v", Chunk);
            Bytes.Write(volume, 0, Bytes.Pattern(Chunk, 1));
            engine.ExpandVolume("v", 3 * Chunk);
            Assert.Equal(new byte[2 * Chunk], Bytes.Read(volume, Chunk, 2 * Chunk));
            Bytes.Write(volume, 2 * Chunk, Bytes.Pattern(Chunk, 2));
            engine.CloseWithoutCheckpoint();
        }
        using (var engine = Open())
        {
            Assert.Equal(3L * Chunk, engine.GetVolume("v").Size);
            Assert.Equal(Bytes.Pattern(Chunk, 2), Bytes.Read(engine.GetVolume("v"), 2 * Chunk, Chunk));
        }
    }

    [Fact]
    public void ReadOnlyVolumeRefusesWrites()
    {
        using var engine = Open();
        var volume = engine.CreateVolume("v", Chunk);
        engine.SetVolumeReadOnly("v", true);
        Assert.True(volume.IsReadOnly);
        Assert.Throws<ReadOnlyVolumeException>(() => Bytes.Write(volume, 0, new byte[4096]));
        engine.SetVolumeReadOnly("v", false);
        Bytes.Write(volume, 0, new byte[4096]);
    }

    /// <summary>A group snapshot whose second new top layer cannot be created (the name of its
    /// data file is taken by a directory) fails whole: the first one's file goes too, no catalog
    /// naming it; and the same call works once the name is free.</summary>
    [Fact]
    public void A_group_snapshot_whose_new_top_cannot_be_created_leaves_no_layer_file()
    {
        var data = Bytes.Pattern(4096, 1);
        var layers = Path.Combine(_directory.Path, "layers");
        using (var engine = Open())
        {
            Bytes.Write(engine.CreateVolume("a", Chunk, "g"), 0, data);
            engine.CreateVolume("b", Chunk, "g");
            var before = Directory.GetFiles(layers).Order().ToList();
            var next = before.Max(f => long.Parse(Path.GetFileNameWithoutExtension(f), CultureInfo.InvariantCulture)) + 1;
            var taken = Path.Combine(layers, $"{next + 1:D8}.data");
            Directory.CreateDirectory(taken);

            Assert.Throws<UnauthorizedAccessException>(() => engine.CreateGroupSnapshot([("a", "sa"), ("b", "sb")]));
            Assert.Equal(before, Directory.GetFiles(layers).Order().ToList());
            Assert.Empty(engine.Snapshots);

            Directory.Delete(taken);
            engine.CreateGroupSnapshot([("a", "sa"), ("b", "sb")]);
            Assert.Equal(data, Bytes.Read(engine.OpenSnapshot("sa"), 0, data.Length));
        }
        using var reopened = Open();
        Assert.Equal(data, Bytes.Read(reopened.OpenSnapshot("sa"), 0, data.Length));
    }
}
