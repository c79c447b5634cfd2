namespace CsiDriver.Engine.Tests.Replication;

public sealed class DirtyChunkTests : IDisposable
{
    private const int Chunk = ChunkRange.ChunkSize;
    private const long VolumeSize = 256L * Chunk;
    private static readonly EngineOptions SmallJournal = new()
    {
        BackgroundCheckpoints = false,
        SegmentBytes = 64 << 10,
        RetentionBudgetBytes = 512 << 10,
    };

    private readonly TempDirectory _directory = new();
    private readonly List<(long Sequence, string Volume, long Chunk)> _written = [];

    public void Dispose() => _directory.Dispose();

    private StorageEngine Open() => StorageEngine.Open(_directory.Path, SmallJournal);

    /// <summary>One 4 KiB write per record, alternating volumes, into chunks from <paramref name="firstChunk"/>.</summary>
    private void WriteRecords(StorageEngine engine, int count, long firstChunk)
    {
        for (var i = 0; i < count; i++)
        {
            var volume = i % 2 == 0 ? "a" : "b";
            var chunk = firstChunk + i % 64;
            Bytes.Write(engine.GetVolume(volume), chunk * Chunk + 4096, Bytes.Pattern(4096, i));
            _written.Add((engine.GetJournalStatus(engine.Group("g")).LastSequence, volume, chunk));
        }
    }

    /// <summary>Chunks of the records written after <paramref name="position"/> that the journal no longer holds.</summary>
    private Dictionary<string, SortedSet<long>> Released(StorageEngine engine, long position)
    {
        var first = engine.GetJournalStatus(engine.Group("g")).FirstSequence;
        return _written.Where(w => w.Sequence > position && w.Sequence < first)
            .GroupBy(w => w.Volume)
            .ToDictionary(g => g.Key, g => new SortedSet<long>(g.Select(w => w.Chunk)));
    }

    private static Dictionary<string, SortedSet<long>> Dirty(StorageEngine engine) =>
        engine.GetDirtyChunks(engine.Group("g"), "replication").ToDictionary(
            v => v.Key,
            v => new SortedSet<long>(v.Value.SelectMany(r => Enumerable.Range(0, (int)(r.Length / Chunk)).Select(i => r.Offset / Chunk + i))));

    [Fact]
    public void ChunksOfRecordsReleasedBeforeAConsumerPassedThemAreKeptAcrossRestarts()
    {
        long position;
        Dictionary<string, SortedSet<long>> expected;
        using (var engine = Open())
        {
            engine.CreateVolume("a", VolumeSize, "g");
            engine.CreateVolume("b", VolumeSize, "g");
            position = engine.RegisterJournalConsumer(engine.Group("g"), "replication").Position;
            Assert.Empty(engine.GetDirtyChunks(engine.Group("g"), "replication"));
            WriteRecords(engine, 200, firstChunk: 0);
            engine.Checkpoint();
            Assert.True(Assert.Single(engine.GetJournalStatus(engine.Group("g")).Consumers).Overrun);
            expected = Released(engine, position);
            Assert.NotEmpty(expected);
            Assert.Equal(expected, Dirty(engine));
            // The checkpoint file was written before this release and still says "not overrun".
            engine.CloseWithoutCheckpoint();
        }
        using (var engine = Open())
        {
            Assert.True(Assert.Single(engine.GetJournalStatus(engine.Group("g")).Consumers).Overrun);
            Assert.Equal(expected, Dirty(engine));
            // Released while already overrun: tracked too.
            WriteRecords(engine, 200, firstChunk: 128);
            engine.Checkpoint();
            expected = Released(engine, position);
            Assert.Contains(expected["b"], c => c >= 128);
            Assert.Equal(expected, Dirty(engine));
        }
        using (var engine = Open())
        {
            Assert.Equal(expected, Dirty(engine));
            Assert.Throws<OutOfRangeException>(() => engine.ResetJournalConsumer(engine.Group("g"), "replication", position));
            var cut = engine.GetJournalStatus(engine.Group("g")).LastSequence;
            engine.ResetJournalConsumer(engine.Group("g"), "replication", cut);
            Assert.Empty(engine.GetDirtyChunks(engine.Group("g"), "replication"));
            var consumer = Assert.Single(engine.GetJournalStatus(engine.Group("g")).Consumers);
            Assert.Equal((cut, false), (consumer.Position, consumer.Overrun));
            engine.CloseWithoutCheckpoint();
        }
        using (var engine = Open())
        {
            Assert.Empty(engine.GetDirtyChunks(engine.Group("g"), "replication"));
            Assert.False(Assert.Single(engine.GetJournalStatus(engine.Group("g")).Consumers).Overrun);
            Assert.True(engine.RemoveJournalConsumer(engine.Group("g"), "replication"));
        }
    }

    [Fact]
    public void AConsumerThatKeepsUpHasNoDirtyChunks()
    {
        using var engine = Open();
        engine.CreateVolume("a", VolumeSize, "g");
        engine.CreateVolume("b", VolumeSize, "g");
        engine.RegisterJournalConsumer(engine.Group("g"), "replication");
        for (var round = 0; round < 4; round++)
        {
            WriteRecords(engine, 50, firstChunk: round * 32);
            engine.AdvanceJournalConsumer(engine.Group("g"), "replication", engine.GetJournalStatus(engine.Group("g")).LastSequence);
            engine.Checkpoint();
        }
        Assert.False(Assert.Single(engine.GetJournalStatus(engine.Group("g")).Consumers).Overrun);
        Assert.Empty(engine.GetDirtyChunks(engine.Group("g"), "replication"));
    }
}
