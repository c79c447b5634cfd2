namespace CsiDriver.Engine.Tests;

/// <summary>
/// The journal consumers' lock against the file work of a release. The journals live on a file
/// system of the test's own, frozen while a checkpoint releases segments: the release's renames
/// then wait until it thaws, which holds the checkpoint inside its file work for as long as the
/// test needs, with no hook in the engine.
/// </summary>
public sealed class JournalConsumersTests : IDisposable
{
    private const long MiB = 1 << 20;
    private static readonly EngineOptions SmallSegments = new() { BackgroundCheckpoints = false, SegmentBytes = 64 << 10 };

    /// <summary>Waiting for what must happen, however loaded the machine: only a hang reaches it.</summary>
    private static readonly TimeSpan Hang = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Acks_and_readers_go_on_while_a_release_renames_and_deletes_its_segments()
    {
        using var disk = await LoopFileSystem.CreateAsync(64 * MiB);
        Directory.CreateSymbolicLink(Path.Combine(_directory.Path, "journals"), disk.Path);
        using var engine = StorageEngine.Open(_directory.Path, SmallSegments);
        var volume = engine.CreateVolume("v", 64 * ChunkRange.ChunkSize, "g");
        var group = engine.Group("g");
        var start = engine.RegisterJournalConsumer(group, "shipper").Position;
        for (var i = 0; i < 60; i++)
        {
            Bytes.Write(volume, i * 4096L, Bytes.Pattern(4096, i));
        }
        engine.Checkpoint(); // the consumer keeps every record
        Bytes.Write(volume, 0, Bytes.Pattern(4096, 60)); // so the next checkpoint has a cut to take
        var last = group.Journal.LastSequence;
        var acked = start + 40;
        engine.AdvanceJournalConsumer(group, "shipper", acked);
        // A reader in the segments about to go: it keeps reading the one it is in.
        using var reader = engine.OpenJournalReader(group, start + 1);
        Assert.True(reader.TryRead(out _));
        var first = group.Journal.FirstSequence;

        Task checkpoint;
        disk.Freeze();
        try
        {
            checkpoint = Task.Run(engine.Checkpoint);
            // The release takes its segments out of the journal (the first sequence moves on)
            // before it renames or deletes any: from here on the checkpoint waits for the thaw.
            while (group.Journal.FirstSequence == first)
            {
                Assert.False(checkpoint.IsCompleted, "the checkpoint released nothing");
                await Task.Delay(10);
            }
            Assert.InRange(group.Journal.FirstSequence, first + 1, acked + 1);

            // The ack of the next batch does not wait for the release's file work.
            await Task.Run(() => engine.AdvanceJournalConsumer(group, "shipper", last)).WaitAsync(Hang);
            var status = await Task.Run(() => engine.GetJournalStatus(group)).WaitAsync(Hang);
            Assert.Equal((last, group.Journal.FirstSequence), (Assert.Single(status.Consumers).Position, status.FirstSequence));
            Assert.False(checkpoint.IsCompleted, "the release's renames waited for the thaw");

            // Nobody reaches a released record; what is kept reads back whole.
            Assert.Throws<OutOfRangeException>(() => engine.OpenJournalReader(group, group.Journal.FirstSequence - 1));
            var kept = engine.ReadJournal(group, acked + 1).ToList();
            Assert.Equal(Enumerable.Range(0, (int)(last - acked)).Select(i => acked + 1 + i), kept.Select(r => r.Sequence));
        }
        finally
        {
            disk.Thaw();
        }
        await checkpoint.WaitAsync(Hang);

        // The reader's segment was deleted under it rather than reused: it reads the records
        // left in it whole, then refuses to move into the released segment after it.
        var released = group.Journal.FirstSequence;
        Assert.Throws<OutOfRangeException>(() =>
        {
            while (reader.TryRead(out var record))
            {
                Assert.Equal(Bytes.Pattern(4096, (int)(record.Sequence - start - 1)), record.Payload.ToArray());
            }
        });
        Assert.InRange(reader.NextSequence, start + 3, released - 1);
        Assert.Equal(last, Assert.Single(engine.GetJournalStatus(group).Consumers).Position);
        Assert.NotEmpty(Directory.GetFiles(disk.Path, "*.spare", SearchOption.AllDirectories));
    }
}
