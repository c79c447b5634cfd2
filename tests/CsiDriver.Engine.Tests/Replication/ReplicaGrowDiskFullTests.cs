using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Replication;
using Xunit.Abstractions;

namespace CsiDriver.Engine.Tests.Replication;

/// <summary>
/// A batch that grows a replica, applied at a backup whose disk is full: its record has room in
/// the journal, its data none in the data file. The main site resends a batch the backup did not
/// take, as often as it fails; the journal must hold it once, whatever each resend answers, and
/// the data must not be lost: reads see it at once, the data file takes it once there is room,
/// and a crash then replays it. Runs on a small ext4 file system of its own that the test fills.
/// </summary>
public sealed class ReplicaGrowDiskFullTests(ITestOutputHelper output)
{
    private const int MiB = 1 << 20;
    private const int Block = 16 << 10;
    private const int Resends = 5;
    private static readonly EngineOptions Manual = new() { BackgroundCheckpoints = false };

    [Fact]
    public async Task A_grow_batch_resent_while_its_data_finds_no_space_is_journaled_once_and_kept()
    {
        using var disk = await LoopFileSystem.CreateAsync(64L * MiB);
        var directory = Path.Combine(disk.Path, "engine");
        var (grown, grownData, later) = (32L * MiB, Bytes.Pattern(Block, 6), Bytes.Pattern(Block, 7));
        var grow = new ReplicaBatch(0, 2, 5, [
            new ReplicaUpdate("stock", JournalRecordKind.Resize, 0, grown, default),
            ReplicaUpdate.Write("stock", grown - Block, grownData)]);
        var next = new ReplicaBatch(2, 3, 6, [ReplicaUpdate.Write("stock", 0, later)]);
        using (var engine = StorageEngine.Open(directory, Manual))
        {
            var stock = engine.CreateReplicaVolume("stock", 16 * MiB, "orders");
            var group = engine.Group("orders");
            engine.Checkpoint();
            var before = engine.GetJournalStatus(group).LastSequence;
            disk.Fill();
            try
            {
                var answers = new List<string>();
                for (var send = 0; send <= Resends; send++)
                {
                    try
                    {
                        answers.Add($"position {Apply(engine, grow).SourceSequence}");
                    }
                    catch (Exception e) when (e is IOException or EngineException)
                    {
                        answers.Add(e.GetType().Name);
                    }
                }
                output.WriteLine($"answers to {Resends + 1} sends: {string.Join(", ", answers)}");
                var journaled = engine.GetJournalStatus(group).LastSequence - before;
                // Each send is refused with the engine's no-space error (the catalog's write, then
                // the pause's drain finds no room) or, should the catalog have had room, taken.
                Assert.All(answers, answer => Assert.Contains(answer, new[] { nameof(InsufficientSpaceException), "position 2" }));
                Assert.True(journaled == 1, $"{journaled} records for one batch sent {Resends + 1} times; answers: {string.Join(", ", answers)}");
                Assert.Equal(2, engine.GetReplicaPosition(group).SourceSequence);
                Assert.Equal(grown, stock.Size);
                Assert.Equal(grownData, Bytes.Read(stock, grown - Block, Block));
            }
            finally
            {
                disk.Release();
            }
            Apply(engine, next); // with room: what the grow left pending is applied before it
            Assert.Equal(grownData, Bytes.Read(stock, grown - Block, Block));
            engine.CloseWithoutCheckpoint(); // a crash
        }
        using var reopened = StorageEngine.Open(directory, Manual);
        Assert.Equal(2, reopened.Recovery.Single(r => r.Journal == "orders").ReplayedRecords);
        var replica = reopened.GetVolume("stock");
        Assert.Equal(3, reopened.GetReplicaPosition(reopened.Group("orders")).SourceSequence);
        Assert.Equal(grown, replica.Size);
        Assert.Equal(grownData, Bytes.Read(replica, grown - Block, Block));
        Assert.Equal(later, Bytes.Read(replica, 0, Block));
    }

    private static ReplicaPosition Apply(StorageEngine engine, ReplicaBatch batch) =>
        engine.ApplyReplicaBatchAsync(engine.Group("orders"), batch).AsTask().GetAwaiter().GetResult();
}
