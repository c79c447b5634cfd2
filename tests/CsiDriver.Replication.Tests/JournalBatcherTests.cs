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

    /// <summary>A record appended but not yet synced may vanish in a power cut at the main, which
    /// then numbers its next records from its durable end: had the backup received it, it would
    /// hold different records under the same sequences. So nothing past the durable sequence
    /// ships; the batcher makes the journal durable (one group-commit sync) before it reads on.</summary>
    [Fact]
    public async Task Only_records_already_durable_are_batched()
    {
        var volume = _engine.CreateVolume("v", Volumes.Size, "g");
        for (var i = 0; i < 8; i++)
        {
            await volume.WriteAsync(i * 4096L, Volumes.Block(i), fua: false);
        }
        var appended = _engine.GetJournalStatus(volume.Group);
        Assert.True(appended.DurableSequence < appended.LastSequence, "the writes were acknowledged before a sync");

        using var batcher = new JournalBatcher(_engine, volume.Group, new HashSet<string> { "v" });
        long after = 0;
        while (batcher.Next(after) is { } batch)
        {
            Assert.True(batch.LastSequence <= _engine.GetJournalStatus(volume.Group).DurableSequence,
                $"batch through {batch.LastSequence} shipped while the journal was durable only through {_engine.GetJournalStatus(volume.Group).DurableSequence}");
            after = batch.LastSequence;
        }
        Assert.Equal(appended.LastSequence, after);

        // Appended after the batcher caught up: the same holds for a reader that is resumed.
        await volume.WriteAsync(0, Volumes.Block(9), fua: false);
        var next = batcher.Next(after);
        Assert.NotNull(next);
        Assert.True(next.LastSequence <= _engine.GetJournalStatus(volume.Group).DurableSequence);
        Assert.Equal(after + 1, next.LastSequence);
    }

    /// <summary>A batch's payloads are packed into the batcher's one buffer, not each copied into
    /// an array of its own: at thousands of 4 KiB records a second those arrays (fresh heap pages
    /// to fault in and zero) were the largest item of the main site's shipping cost.</summary>
    [Fact]
    public async Task A_batch_of_4_KiB_records_carries_their_bytes_without_an_array_per_record()
    {
        var volume = _engine.CreateVolume("v", Volumes.Size, "g");
        const int blocks = 1024; // 4 MiB: a full batch, then a second one
        for (var i = 0; i < blocks; i++)
        {
            await volume.WriteAsync(i * 4096L, Volumes.Block(i), fua: false);
        }
        using var batcher = new JournalBatcher(_engine, volume.Group, new HashSet<string> { "v" });
        var first = batcher.Next(0);
        Assert.NotNull(first);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var second = batcher.Next(first.LastSequence);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.NotNull(second);
        Assert.Equal(blocks, first.Records.Count + second.Records.Count);
        Assert.True(allocated < second.PayloadBytes / 4, $"{allocated} bytes allocated to batch {second.Records.Count} records of {second.PayloadBytes} payload bytes");
        Assert.All(second.Records, r => Assert.Equal(Volumes.Block((int)(r.Offset / 4096)), r.Payload.ToArray()));
    }
}
