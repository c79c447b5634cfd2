using System.Buffers.Binary;
using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Engine.Nbd;
using Xunit.Abstractions;

namespace CsiDriver.ConformanceTests.Faults;

/// <summary>
/// Two SIGKILLs of the published binary in a row while its journal appends into a reused
/// segment file (a spare, GroupJournal.Spares.cs). Every write is a 4 KiB write, so every
/// journal record has one size and a reused file's earlier-life records lie whole exactly where
/// the next record is due: the first restart cuts that stale tail, the writes after it go on in
/// the same segment, and the second restart must still find every one of them. (It did not: the
/// cut was made past the first stale record, which then stood in front of the new ones, and the
/// second recovery stopped at it — acknowledged writes lost, found by the replication restart
/// probe as a torn image two transitions later.)
/// </summary>
public sealed class JournalReuseKillTests(ITestOutputHelper output)
{
    private const int Block = 4096;
    private const int Slots = 256;

    /// <summary>Bounds the writes that wait for a roll into a spare (64 MiB: the largest segment).</summary>
    private const int MaxWritesForAReuse = 64 * Slots;

    [Fact]
    public async Task Writes_after_a_cut_stale_tail_survive_the_next_kill()
    {
        using var workspace = DriverWorkspace.Create();
        var driver = await DriverProcess.StartAsync(workspace);
        var socket = Path.Combine(workspace.DataDirectory, "nbd.sock");
        var expected = new long[Slots];
        long written = 0;
        try
        {
            var volumeId = (await driver.Csi.CreateVolume(Volumes.Request(Volumes.UniqueName("reuse"), Volumes.Block(), (long)Slots * Block))).Volume.VolumeId;
            var journal = Path.Combine(workspace.DataDirectory, "engine", "journals");

            // Segments to release, then a checkpoint (a clone takes one) that keeps them as spares.
            written = await WriteAsync(socket, volumeId, expected, written, 4 * Slots);
            var clone = Volumes.Request(Volumes.UniqueName("reuse-clone"), Volumes.Block(), (long)Slots * Block);
            clone.VolumeContentSource = new VolumeContentSource { Volume = new VolumeContentSource.Types.VolumeSource { VolumeId = volumeId } };
            await driver.Csi.CreateVolume(clone);
            Assert.True(Spares(journal) > 0, "the checkpoint released no segment to reuse");

            // Into a spare, a few records in: the kill leaves its earlier life's records after them.
            var spares = Spares(journal);
            while (Spares(journal) >= spares)
            {
                Assert.True(written < MaxWritesForAReuse, $"no roll into a spare after {written} writes");
                written = await WriteAsync(socket, volumeId, expected, written, 16);
            }
            driver = await RestartAsync(driver, workspace, socket, volumeId, expected, "inside a reused segment");
            var cut = driver.Output.AllText.Split('\n').FirstOrDefault(l => l.Contains("off the tail", StringComparison.Ordinal));
            output.WriteLine($"first restart: {cut}");
            Assert.True(cut?.Contains("was due", StringComparison.Ordinal) == true, $"the restart cut no stale record: {cut ?? "no cut"}");

            // Not flushed, and killed at once: held in the write overlay, they are in the journal
            // only (a kill keeps every write that reached it, acknowledged or not).
            written = await WriteAsync(socket, volumeId, expected, written, 8, fua: false);
            driver = await RestartAsync(driver, workspace, socket, volumeId, expected, "after writes that followed the cut");
            await driver.StopAsync();
        }
        finally
        {
            await driver.DisposeAsync();
        }
    }

    /// <summary>SIGKILL, start again, and every write acknowledged must read back.</summary>
    private async Task<DriverProcess> RestartAsync(DriverProcess driver, DriverWorkspace workspace, string socket, string volumeId, long[] expected, string when)
    {
        await driver.CrashAsync();
        await driver.DisposeAsync();
        var restarted = await DriverProcess.StartAsync(workspace);
        try
        {
            var data = new byte[Slots * Block];
            await using (var device = await NbdBlockDevice.OpenAsync(socket, volumeId))
            {
                await device.ReadAsync(0, data);
            }
            var lost = Enumerable.Range(0, Slots)
                .Where(slot => BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(slot * Block)) != expected[slot])
                .Select(slot => $"slot {slot}: write {expected[slot]} missing, holds {BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(slot * Block))}")
                .ToList();
            Assert.True(lost.Count == 0, $"a kill {when} lost acknowledged writes: {string.Join("; ", lost.Take(8))}\n{restarted.Output.AllText}");
            return restarted;
        }
        catch
        {
            await restarted.DisposeAsync(); // the caller still holds the killed one
            throw;
        }
    }

    /// <summary>Writes <paramref name="count"/> blocks (write n into slot n mod <see cref="Slots"/>), each with FUA unless told not to.</summary>
    private static async Task<long> WriteAsync(string socket, string volumeId, long[] expected, long written, int count, bool fua = true)
    {
        await using var device = await NbdBlockDevice.OpenAsync(socket, volumeId);
        var block = new byte[Block];
        for (var n = written + 1; n <= written + count; n++)
        {
            block.AsSpan().Fill((byte)n);
            BinaryPrimitives.WriteInt64LittleEndian(block, n);
            var slot = (int)(n % Slots);
            await device.WriteAsync((long)slot * Block, block, fua);
            expected[slot] = n;
        }
        return written + count;
    }

    private static int Spares(string journals) => Directory.GetFiles(journals, "*.spare", SearchOption.AllDirectories).Length;
}
