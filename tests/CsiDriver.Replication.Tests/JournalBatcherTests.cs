using CsiDriver.Engine;
using CsiDriver.Engine.Journal;
using CsiDriver.Replication;

namespace CsiDriver.Replication.Tests;

public sealed class JournalBatcherTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("formation-batcher-").FullName;
    private readonly StorageEngine _engine;

    public JournalBatcherTests() => _engine = StorageEngine.Open(_directory);

    public void Dispose()
    {
        _engine.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Batches_cover_every_sequence_in_order_within_the_message_budget_and_only_the_links_volumes()
    {
        var mine = _engine.CreateVolume("mine", Volumes.Size, "g");
        var other = _engine.CreateVolume("other", Volumes.Size, "g");
        for (var i = 0; i < 60; i++)
        {
            await mine.WriteAsync(i * 65536L, new byte[65536].AsMemory(), fua: false);
            await other.WriteAsync(i * 4096L, Volumes.Block(i), fua: false);
        }
        _engine.CreateSnapshot("mine", "snap");
        await mine.TrimAsync(0, 4096);
        var last = _engine.GetJournalStatus(mine.Group).LastSequence;

        using var batcher = new JournalBatcher(_engine, mine.Group, new HashSet<string> { "mine" });
        var batches = new List<JournalBatch>();
        long after = 0;
        while (batcher.Next(after) is { } next)
        {
            Assert.True(next.PayloadBytes <= SiteLinkProtocol.MaxPayloadPerMessage);
            Assert.Equal(next.Records.Sum(r => (long)r.Payload.Length), next.PayloadBytes);
            batches.Add(next);
            after = next.LastSequence;
        }

        Assert.True(batches.Count >= 2, $"{batches.Count} batches for 3.75 MiB");
        Assert.Equal(last, after);
        Assert.Equal(batches.Select(b => b.AfterSequence).Skip(1), batches.Select(b => b.LastSequence).SkipLast(1));
        var records = batches.SelectMany(b => b.Records).ToList();
        Assert.All(records, r => Assert.Equal("mine", r.VolumeId));
        Assert.Equal(61, records.Count);
        Assert.Equal(JournalRecordKind.Trim, records[^1].Kind);
        Assert.Null(batcher.Next(after));
    }
}
