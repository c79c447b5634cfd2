namespace CsiDriver.Engine.Tests;

/// <summary>Corruption seen through the engine: a damaged journal tail is cut and reported and
/// the engine keeps working; damaged metadata is a named error, never a crash.</summary>
public sealed partial class StorageEngineTests
{
    private string[] JournalSegments() =>
        Directory.GetFiles(Path.Combine(_directory.Path, "journals"), "*.seg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void CorruptJournalTailIsCutReportedAndTheRestRecovered()
    {
        var engine = Open();
        var volume = engine.CreateVolume("v", 4 * Chunk, "g");
        engine.Checkpoint();
        for (var i = 0; i < 4; i++)
        {
            Bytes.Write(volume, i * Chunk, Bytes.Pattern(Chunk, i));
        }
        engine.CloseWithoutCheckpoint();

        // Flip a bit in the payload of the third record after the checkpoint.
        var segment = JournalSegments().Last(f => new FileInfo(f).Length > 3 * Chunk);
        var bytes = File.ReadAllBytes(segment);
        var third = 64 + 2 * (56 + Chunk) + 56 + 1000;
        bytes[third] ^= 0x40;
        File.WriteAllBytes(segment, bytes);

        using var reopened = Open();
        var report = Assert.Single(reopened.Recovery, r => r.Journal == "g");
        Assert.Contains("checksum", report.CutReason);
        Assert.Equal(2, report.ReplayedRecords);
        var recovered = reopened.GetVolume("v");
        Assert.Equal(Bytes.Pattern(Chunk, 0), Bytes.Read(recovered, 0, Chunk));
        Assert.Equal(Bytes.Pattern(Chunk, 1), Bytes.Read(recovered, Chunk, Chunk));
        Bytes.Write(recovered, 2 * Chunk, Bytes.Pattern(Chunk, 9), fua: true);
        Assert.Equal(Bytes.Pattern(Chunk, 9), Bytes.Read(recovered, 2 * Chunk, Chunk));
    }

    [Fact]
    public void RandomJournalDamageNeverCrashesTheEngine()
    {
        var random = new Random(5);
        using (var engine = Open())
        {
            engine.CreateVolume("v", 16 * Chunk);
        }
        for (var round = 0; round < 15; round++)
        {
            var engine = Open();
            var volume = engine.GetVolume("v");
            for (var i = 0; i < 20; i++)
            {
                Bytes.Write(volume, random.Next(16 * 16 - 3) * 4096L, Bytes.Pattern(4096 * (1 + random.Next(3)), i), fua: false);
            }
            engine.CloseWithoutCheckpoint();
            var victim = JournalSegments().Last();
            var bytes = File.ReadAllBytes(victim);
            if (random.Next(2) == 0)
            {
                bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
            }
            else
            {
                Array.Resize(ref bytes, random.Next(bytes.Length));
            }
            File.WriteAllBytes(victim, bytes);
            using var reopened = Open();
            Assert.NotEmpty(reopened.Recovery);
            Bytes.ReadAll(reopened.GetVolume("v"));
        }
    }

    [Fact]
    public void DamagedCatalogOrMapIsANamedCorruptionError()
    {
        using (var engine = Open())
        {
            Bytes.Write(engine.CreateVolume("v", Chunk), 0, new byte[4096]);
        }
        var map = Directory.GetFiles(Path.Combine(_directory.Path, "layers"), "*.map").Single();
        var mapBytes = File.ReadAllBytes(map);
        mapBytes[^1] ^= 1;
        File.WriteAllBytes(map, mapBytes);
        Assert.Contains(".map", Assert.Throws<CorruptionException>(() => Open()).Message);

        var catalog = Path.Combine(_directory.Path, "catalog");
        var catalogBytes = File.ReadAllBytes(catalog);
        catalogBytes[30] ^= 1;
        File.WriteAllBytes(catalog, catalogBytes);
        Assert.Contains("catalog", Assert.Throws<CorruptionException>(() => Open()).Message);
    }
}
