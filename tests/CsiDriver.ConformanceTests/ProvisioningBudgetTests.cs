using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>
/// What may be provisioned: the capacity limit holds under concurrent creates, and without one
/// the overcommit ratio bounds creates and GetCapacity alike (issue 14, defects 3 and 4).
/// </summary>
public sealed class ProvisioningBudgetTests
{
    [Fact]
    public async Task Concurrent_creates_never_provision_past_the_capacity_limit()
    {
        using var workspace = DriverWorkspace.Create();
        await using var driver = await DriverProcess.StartAsync(workspace, new DriverSettings { CapacityLimit = "1Gi" });
        var csi = driver.Csi;
        const long size = 256 * Volumes.MiB;

        // Three rounds of 20 creates at once, each for a quarter of the limit: exactly 4 fit.
        for (var round = 0; round < 3; round++)
        {
            var creates = Enumerable.Range(0, 20).Select(async i =>
            {
                try
                {
                    return (Volume: await csi.CreateAsync($"race-{round}-{i}", requiredBytes: size), Refusal: (RpcException?)null);
                }
                catch (RpcException e)
                {
                    return (Volume: (Volume?)null, Refusal: e);
                }
            }).ToList();
            var results = await Task.WhenAll(creates);

            var created = results.Where(r => r.Volume is not null).Select(r => r.Volume!).ToList();
            Assert.All(results.Where(r => r.Refusal is not null), r => Assert.Equal(StatusCode.ResourceExhausted, r.Refusal!.Status));
            var provisioned = (await csi.ListAllAsync()).Sum(e => e.Volume.CapacityBytes);
            Assert.True(provisioned <= Volumes.GiB, $"round {round}: {provisioned} bytes provisioned under a 1 GiB limit");
            Assert.Equal(4, created.Count);
            Assert.Equal(0, (await csi.GetCapacity(new GetCapacityRequest())).AvailableCapacity);
            foreach (var volume in created)
            {
                await csi.DeleteVolume(volume.VolumeId);
            }
        }
        Assert.Equal(Volumes.GiB, (await csi.GetCapacity(new GetCapacityRequest())).AvailableCapacity);
        await driver.StopAsync();
    }

    [Fact]
    public async Task Without_a_limit_the_overcommit_ratio_bounds_creates_and_capacity_alike()
    {
        // The data directory on a 256 MiB tmpfs of the test's own, overcommitted twice.
        const long fileSystem = 256 * Volumes.MiB;
        using var workspace = DriverWorkspace.Create();
        Directory.CreateDirectory(workspace.DataDirectory);
        await HostCommand.RunAsync("mount", "-t", "tmpfs", "-o", $"size={fileSystem}", "formation-test", workspace.DataDirectory);
        try
        {
            await using var driver = await DriverProcess.StartAsync(workspace, new DriverSettings { OvercommitRatio = "2" });
            var csi = driver.Csi;

            var capacity = await csi.GetCapacity(new GetCapacityRequest());
            Assert.InRange(capacity.AvailableCapacity, 1, 2 * fileSystem);
            Assert.Equal(capacity.AvailableCapacity, capacity.MaximumVolumeSize);
            var huge = await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, () => csi.CreateAsync("huge", requiredBytes: 64L << 40));
            Assert.Contains("overcommit ratio 2", huge.Message);

            // Creates succeed exactly while GetCapacity says the size fits, and stop within the ratio.
            const long size = 128 * Volumes.MiB;
            var created = new List<string>();
            for (var i = 0; i < 8; i++)
            {
                var available = (await csi.GetCapacity(new GetCapacityRequest())).AvailableCapacity;
                if (available < size)
                {
                    await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, () => csi.CreateAsync($"thin-{i}", requiredBytes: size));
                    break;
                }
                created.Add((await csi.CreateAsync($"thin-{i}", requiredBytes: size)).VolumeId);
            }
            Assert.InRange(created.Count, 1, 4);
            Assert.True((await csi.ListAllAsync()).Sum(e => e.Volume.CapacityBytes) <= 2 * fileSystem);
            foreach (var id in created)
            {
                await csi.DeleteVolume(id);
            }

            // A full disk provisions nothing, whatever the ratio.
            var filler = Path.Combine(workspace.DataDirectory, "filler");
            await FillAsync(filler);
            Assert.Equal(0, (await csi.GetCapacity(new GetCapacityRequest())).AvailableCapacity);
            await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, () => csi.CreateAsync("on-a-full-disk", requiredBytes: 4 * Volumes.MiB));
            File.Delete(filler);
            await csi.CreateAsync("after-the-filler", requiredBytes: 4 * Volumes.MiB);
            await driver.StopAsync();
        }
        finally
        {
            await HostCommand.RunAsync("umount", workspace.DataDirectory);
        }
    }

    private static async Task FillAsync(string path)
    {
        var block = new byte[1 << 20];
        await using var file = new FileStream(path, FileMode.CreateNew);
        try
        {
            while (true)
            {
                await file.WriteAsync(block);
                await file.FlushAsync();
            }
        }
        catch (IOException)
        {
            // ENOSPC: the file system is full.
        }
    }
}
