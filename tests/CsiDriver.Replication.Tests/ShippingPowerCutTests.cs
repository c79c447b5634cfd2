using CsiDriver.Engine;
using CsiDriver.Engine.CrashWorker;
using CsiDriver.Engine.Tests;
using CsiDriver.Engine.Tests.PowerCut;
using Xunit.Abstractions;

namespace CsiDriver.Replication.Tests;

/// <summary>
/// Durable-only shipping under a real power cut: the main site (a child process on a
/// <see cref="PowerCutDisk"/>) writes without flushing while its <see cref="JournalBatcher"/>
/// batches the journal; the shipping stops at a random moment, and once the worker says its
/// journal holds a record no flush covers (<see cref="ShipWorkload.HeldLine"/>) the power goes,
/// taking the journal's unflushed tail and the process, and the main site recovers. Every record
/// a batch held must then be in the main's journal, the same record under the same sequence: the
/// backup's image is a prefix of the main's sequence, never one it lost (which it would then
/// number again with other data). Every round's cut must take a record: one that took nothing
/// tested nothing (the shipper's syncs keep the tail short, so a cut at a random moment mostly did).
/// </summary>
public sealed class ShippingPowerCutTests(ITestOutputHelper output)
{
    private const int Rounds = 6;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_power_cut_while_shipping_takes_no_record_a_batch_held()
    {
        await using var disk = await PowerCutDisk.CreateAsync(256L << 20);
        var random = new Random(20261205);
        for (var round = 0; round < Rounds; round++)
        {
            var directory = Path.Combine(disk.Path, $"main-{round}");
            ShipWorkload.Prepare(directory);
            await disk.SyncAsync(); // the setup is durable; the cut judges the workload's own flushes
            string[] shipped;
            long held;
            DeviceRequests requests;
            using (var worker = new CrashWorkerProcess("ship", directory, random.Next().ToString(System.Globalization.CultureInfo.InvariantCulture)))
            {
                worker.WaitUntilReady(Bound);
                held = await WaitForHeldAsync(worker);
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
                    + $"record {held} held unflushed before the cut, recovered through {last}");
                Assert.True(shippedLast <= last, $"round {round}: batches reached sequence {shippedLast}, the main site recovered only through {last}");
                Assert.True(last < held, $"round {round}: the cut took no record (record {held} was held unflushed, recovered through {last}): it tested nothing");
                foreach (var line in shipped)
                {
                    var sequence = ShipWorkload.SequenceOf(line)!.Value;
                    Assert.True(recovered.TryGetValue(sequence, out var kept), $"round {round}: shipped record {sequence} is not in the recovered journal");
                    Assert.Equal(line, kept);
                }
            }
            // Each round starts on new volumes: the rounds of a long run would fill the small disk.
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Waits until the worker has stopped shipping and holds a record no flush covers; returns its sequence.</summary>
    private static async Task<long> WaitForHeldAsync(CrashWorkerProcess worker)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            if (worker.Lines.Select(ShipWorkload.HeldOf).FirstOrDefault(h => h != null) is { } held)
            {
                return held;
            }
            Assert.True(DateTime.UtcNow < deadline, "the main site never held an unflushed record: " + string.Join(" | ", worker.Lines.TakeLast(5)));
            await Task.Delay(10);
        }
    }
}
