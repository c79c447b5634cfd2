using CsiDriver.Engine;
using CsiDriver.Engine.CrashWorker;
using CsiDriver.Engine.Tests;
using CsiDriver.Engine.Tests.PowerCut;
using Xunit.Abstractions;

namespace CsiDriver.Replication.Tests;

/// <summary>
/// Durable-only shipping under a real power cut: the main site (a child process on a
/// <see cref="PowerCutDisk"/>) writes without flushing while its <see cref="JournalBatcher"/>
/// batches the journal; the power goes at a random moment, taking the journal's unflushed tail
/// and the process, and the main site recovers. Every record a batch held must then be in the
/// main's journal, the same record under the same sequence: the backup's image is a prefix of
/// the main's sequence, never one it lost (which it would then number again with other data).
/// </summary>
public sealed class ShippingPowerCutTests(ITestOutputHelper output)
{
    private const int Rounds = 6;

    /// <summary>On a quiet machine the journal's syncs may keep up and a few cuts take nothing:
    /// more rounds, up to this many, until one has (the test must not pass having tested nothing).</summary>
    private const int MaxRounds = 24;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_power_cut_while_shipping_takes_no_record_a_batch_held()
    {
        await using var disk = await PowerCutDisk.CreateAsync(256L << 20);
        var random = new Random(20261205);
        long lostRecords = 0;
        for (var round = 0; round < Rounds || (lostRecords == 0 && round < MaxRounds); round++)
        {
            var directory = Path.Combine(disk.Path, $"main-{round}");
            ShipWorkload.Prepare(directory);
            await disk.SyncAsync(); // the setup is durable; the cut judges the workload's own flushes
            string[] shipped;
            long appended;
            DeviceRequests requests;
            using (var worker = new CrashWorkerProcess("ship", directory, random.Next().ToString(System.Globalization.CultureInfo.InvariantCulture)))
            {
                worker.WaitUntilReady(Bound);
                await WaitForShippedAsync(worker, 200 + random.Next(1500));
                appended = worker.Lines.Max(l => ShipWorkload.AppendedOf(l) ?? 0); // in the journal before the cut
                requests = await disk.CutAsync();
                shipped = [.. worker.Lines.Where(l => ShipWorkload.SequenceOf(l) != null)]; // the cut is what ends the batches
                worker.Kill();
            }
            await disk.RestoreAsync();

            long last;
            using (var engine = StorageEngine.Open(directory, ShipWorkload.Options))
            {
                var group = engine.GetVolume(ShipWorkload.VolumeId).Group;
                var recovered = engine.ReadJournal(group, 1).Select(ShipWorkload.Line).ToDictionary(l => ShipWorkload.SequenceOf(l)!.Value);
                last = engine.GetJournalStatus(group).LastSequence;
                var shippedLast = ShipWorkload.SequenceOf(shipped[^1])!.Value;
                output.WriteLine($"round {round}: {requests}; {shipped.Length} records shipped through {shippedLast}; "
                    + $"appended through {appended} or more before the cut, recovered through {last}");
                Assert.True(shippedLast <= last, $"round {round}: batches reached sequence {shippedLast}, the main site recovered only through {last}");
                foreach (var line in shipped)
                {
                    var sequence = ShipWorkload.SequenceOf(line)!.Value;
                    Assert.True(recovered.TryGetValue(sequence, out var kept), $"round {round}: shipped record {sequence} is not in the recovered journal");
                    Assert.Equal(line, kept);
                }
            }
            // Each round starts on new volumes: the rounds of a long run would fill the small disk.
            Directory.Delete(directory, recursive: true);
            lostRecords += Math.Max(0, appended - last);
        }
        Assert.True(lostRecords > 0, "no cut took a record the journal held: the cuts tested nothing");
    }

    /// <summary>Waits <paramref name="milliseconds"/> after the first batch has been shipped.</summary>
    private static async Task WaitForShippedAsync(CrashWorkerProcess worker, int milliseconds)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!worker.Lines.Any(l => ShipWorkload.SequenceOf(l) != null))
        {
            Assert.True(DateTime.UtcNow < deadline, "the main site shipped nothing: " + string.Join(" | ", worker.Lines.TakeLast(5)));
            await Task.Delay(10);
        }
        await Task.Delay(milliseconds);
    }
}
