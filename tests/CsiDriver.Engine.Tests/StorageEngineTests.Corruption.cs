namespace CsiDriver.Engine.Tests;

/// <summary>Corruption seen through the engine: a damaged journal tail is cut and reported, the
/// volume holds exactly the writes before the damage, and the engine keeps working; damaged
/// metadata is a named error, never a crash.</summary>
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
        // Exactly the two writes before the damaged record: the third and the fourth are gone.
        Assert.Equal([.. Bytes.Pattern(Chunk, 0), .. Bytes.Pattern(Chunk, 1), .. new byte[2 * Chunk]], Bytes.ReadAll(recovered));
        Bytes.Write(recovered, 2 * Chunk, Bytes.Pattern(Chunk, 9), fua: true);
        Assert.Equal(Bytes.Pattern(Chunk, 9), Bytes.Read(recovered, 2 * Chunk, Chunk));
    }

    [Fact]
    public void RandomJournalDamageRecoversTheWritesBeforeIt()
    {
        // Each write is one record: after damage to the newest segment, recovery replays this
        // round's writes up to the first damaged record, and the volume holds exactly that prefix.
        // The one exception is allowed to a disk too: a write the cut removed was never flushed,
        // and it went to its chunk in place before the damage, so where the volume holds that
        // chunk a byte may still be that write's.
        const int Size = 16 * Chunk;
        var random = new Random(5);
        using (var engine = Open())
        {
            engine.CreateVolume("v", Size);
        }
        var image = new byte[Size];
        for (var round = 0; round < 15; round++)
        {
            var engine = Open();
            var volume = engine.GetVolume("v");
            var writes = new List<(long Offset, byte[] Data)>();
            for (var i = 0; i < 20; i++)
            {
                var write = (random.Next(16 * 16 - 3) * 4096L, Bytes.Pattern(4096 * (1 + random.Next(3)), round * 100 + i));
                Bytes.Write(volume, write.Item1, write.Item2, fua: false);
                writes.Add(write);
            }
            engine.CloseWithoutCheckpoint();
            var firstDamaged = JournalDamage.Inflict(JournalSegments().Last(), random);

            using var reopened = Open();
            var report = Assert.Single(reopened.Recovery);
            var kept = (int)Math.Clamp(firstDamaged - 1 - report.CheckpointSequence, 0, writes.Count);
            Assert.Equal(kept, report.ReplayedRecords);
            foreach (var (offset, data) in writes.Take(kept))
            {
                data.CopyTo(image, offset);
            }
            var recovered = Bytes.ReadAll(reopened.GetVolume("v"));
            for (var at = 0; at < Size; at++)
            {
                if (recovered[at] != image[at] && !writes.Skip(kept).Any(w => w.Offset <= at && at < w.Offset + w.Data.Length && w.Data[at - w.Offset] == recovered[at]))
                {
                    Assert.Fail($"round {round}: byte {at} is {recovered[at]}, neither the {kept} replayed writes' {image[at]} nor a cut write's");
                }
            }
            image = recovered;
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
