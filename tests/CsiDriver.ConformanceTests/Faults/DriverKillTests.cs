using System.Collections.Concurrent;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Engine;
using CsiDriver.Engine.CrashWorker;
using CsiDriver.Engine.Nbd;
using CsiDriver.TestSupport;
using CsiDriver.Engine.Tests;
using Xunit.Abstractions;

namespace CsiDriver.ConformanceTests.Faults;

/// <summary>
/// SIGKILL of the published binary at random moments under a writer that flushes: the crash
/// workload's two group streams (volumes "a" and "b" in one consistency group, "c" alone)
/// written through the driver's NBD socket, a flush of both groups every few operations. After
/// each kill the driver must start again, and each group must hold a prefix of its operations
/// no shorter than its last completed flush (<see cref="CrashWorkloadModel"/>).
/// </summary>
public sealed class DriverKillTests(ITestOutputHelper output)
{
    private const int Rounds = 8;

    [Fact]
    public async Task A_killed_driver_starts_again_with_every_flushed_write_and_a_prefix_of_each_group()
    {
        using var workspace = DriverWorkspace.Create();
        var driver = await DriverProcess.StartAsync(workspace);
        var random = new Random(20261206);
        var model = new CrashWorkloadModel(random.Next());
        var figures = new FaultFigures("SIGKILL under flushed writes (driver)");
        try
        {
            var ids = new Dictionary<string, string>();
            foreach (var name in CrashWorkload.GroupVolumes.Append(CrashWorkload.SoloVolume))
            {
                var request = Volumes.Request(Volumes.UniqueName("kill-" + name), Volumes.Block(), CrashWorkload.VolumeSize);
                if (name != CrashWorkload.SoloVolume)
                {
                    request.Parameters["consistencyGroup"] = "kill-" + CrashWorkload.Group;
                }
                ids[name] = (await driver.Csi.CreateVolume(request)).Volume.VolumeId;
            }
            var socket = Path.Combine(workspace.DataDirectory, "nbd.sock");

            for (var round = 0; round < Rounds; round++)
            {
                var lines = new ConcurrentQueue<string>();
                var writer = Task.Run(() => WriteAsync(socket, ids, model, lines));
                await Task.Delay(300 + random.Next(1200));
                await driver.CrashAsync();
                await writer; // ends at the first failed request
                await driver.DisposeAsync();

                driver = await DriverProcess.StartAsync(workspace);
                var volumes = new Dictionary<string, byte[]>();
                foreach (var (name, id) in ids)
                {
                    await using var device = await NbdBlockDevice.OpenAsync(socket, id);
                    volumes[name] = new byte[device.Size];
                    await device.ReadAsync(0, volumes[name]);
                }
                var check = model.CheckGroups(name => volumes[name], lines);
                output.WriteLine($"round {round}: {check}");
                check.Report(figures, $"round {round}");
                if (check.NonPrefixImages > 0)
                {
                    break; // the model no longer describes the data
                }
            }
            await driver.StopAsync();
        }
        finally
        {
            await driver.DisposeAsync();
        }
        figures.Report(output);
        Assert.True(figures.Counted("workload flushes") > 0 && model.Applied.Take(2).All(a => a > 0), "no flush completed or nothing survived");
    }

    /// <summary>Streams 0 and 1 alternately from where the model stands, a flush of both groups
    /// every 32 operations ("F g c" once it completed), until a request fails.</summary>
    private static async Task WriteAsync(string socket, Dictionary<string, string> ids, CrashWorkloadModel model, ConcurrentQueue<string> lines)
    {
        var devices = new Dictionary<string, NbdBlockDevice>();
        try
        {
            foreach (var (name, id) in ids)
            {
                devices[name] = await NbdBlockDevice.OpenAsync(socket, id);
            }
            var next = model.Applied.Take(2).ToArray();
            for (var step = 0; step < 1_000_000; step++)
            {
                var stream = step % 2;
                var op = CrashWorkload.For(model.Seed, stream, next[stream]);
                IBlockDevice device = devices[op.Volume];
                if (op.Trim)
                {
                    await device.TrimAsync(op.Offset, op.Length);
                }
                else
                {
                    await device.WriteAsync(op.Offset, CrashWorkload.Content(op), fua: op.Index % 7 == 0);
                }
                next[stream]++;
                if (step % (2 * CrashWorkload.FlushEvery) == 2 * CrashWorkload.FlushEvery - 1)
                {
                    await devices[CrashWorkload.GroupVolumes[0]].FlushAsync();
                    await devices[CrashWorkload.SoloVolume].FlushAsync();
                    lines.Enqueue($"F {next[0]} {next[1]}");
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            // the driver was killed
        }
        finally
        {
            foreach (var device in devices.Values)
            {
                await device.DisposeAsync();
            }
        }
    }
}
