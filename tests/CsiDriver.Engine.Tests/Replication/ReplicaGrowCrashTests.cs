using CsiDriver.Engine.CrashWorker;
using Xunit.Abstractions;

namespace CsiDriver.Engine.Tests.Replication;

/// <summary>
/// A backup applying batches that each grow the replica, killed with SIGKILL at a random moment
/// (<see cref="GrowWorkload"/>): after recovery the replica is exactly the one its position
/// names (the size, every added chunk, the first block naming the position), and the position is
/// no older than the last one acknowledged. A grow's record is synced before the catalog names
/// the new size, and its data reaches the data file through the overlay, after both.
/// </summary>
public sealed class ReplicaGrowCrashTests(ITestOutputHelper output) : IDisposable
{
    private const int Rounds = 4;
    private static readonly EngineOptions Manual = new() { BackgroundCheckpoints = false };
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void Killed_while_grow_batches_apply_the_replica_recovers_to_the_batch_its_position_names()
    {
        var random = new Random(20261206);
        GrowWorkload.Prepare(_directory.Path);
        long acknowledged = 0;
        for (var round = 0; round < Rounds; round++)
        {
            string[] lines;
            using (var worker = new CrashWorkerProcess("grow", _directory.Path))
            {
                worker.WaitUntilReady(TimeSpan.FromSeconds(60));
                Thread.Sleep(100 + random.Next(600));
                worker.Kill();
                lines = [.. worker.Lines];
            }
            Assert.DoesNotContain(lines, l => l.StartsWith("ERR", StringComparison.Ordinal));
            acknowledged = lines.Select(GrowWorkload.AcknowledgedOf).Append(acknowledged).Max() ?? acknowledged;

            using var engine = StorageEngine.Open(_directory.Path, Manual);
            var position = engine.GetReplicaPosition(engine.Groups.Single(g => g.Name == GrowWorkload.Group)).SourceSequence;
            output.WriteLine($"round {round}: acknowledged {acknowledged}, recovered {position}, replayed {engine.Recovery.Sum(r => r.ReplayedRecords)} records");
            Assert.True(position >= acknowledged, $"round {round}: recovered {position}, acknowledged {acknowledged}");
            var replica = engine.GetVolume(GrowWorkload.VolumeId);
            Assert.Equal(GrowWorkload.SizeAt(position), replica.Size);
            for (var batch = 0L; batch < position; batch++)
            {
                Assert.Equal(GrowWorkload.Content(batch), Bytes.Read(replica, GrowWorkload.SizeAt(batch), GrowWorkload.Chunk));
            }
            if (position > 0)
            {
                var marker = GrowWorkload.Marker(position);
                Assert.Equal(marker, Bytes.Read(replica, 0, marker.Length));
            }
        }
        Assert.True(acknowledged > 0, "the worker never had a batch acknowledged");
    }
}
