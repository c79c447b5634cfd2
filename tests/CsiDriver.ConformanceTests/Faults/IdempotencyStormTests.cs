using System.Collections.Concurrent;
using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using Xunit.Abstractions;

namespace CsiDriver.ConformanceTests.Faults;

/// <summary>
/// Idempotency storms against the published binary under a capacity limit: workers fire
/// creates, deletes, snapshots and expansions at a handful of shared names at once, the same
/// request many times over and conflicting ones among them. Every answer must be one the spec
/// allows for that call; no GetCapacity may report more than the limit or less than nothing;
/// what is provisioned never exceeds the limit; and afterwards, deleting every id any answer
/// named leaves nothing behind: no volume or snapshot leaked by a race, and the whole limit
/// available again.
/// </summary>
public sealed class IdempotencyStormTests(ITestOutputHelper output)
{
    private const int Workers = 8;
    private const int CallsPerWorker = 60;
    private const long Limit = Volumes.GiB;
    private static readonly string[] VolumeNames = Enumerable.Range(0, 6).Select(i => $"storm-volume-{i}").ToArray();
    private static readonly string[] SnapshotNames = Enumerable.Range(0, 4).Select(i => $"storm-snapshot-{i}").ToArray();

    private readonly FaultFigures _figures = new("idempotency storms with a capacity limit");
    private readonly ConcurrentDictionary<string, string> _volumeIds = new(); // id → name
    private readonly ConcurrentDictionary<string, string> _snapshotIds = new();

    [Fact]
    public async Task Storms_get_allowed_answers_keep_the_limit_and_leak_nothing()
    {
        using var workspace = DriverWorkspace.Create();
        await using var driver = await DriverProcess.StartAsync(workspace, new DriverSettings { CapacityLimit = "1Gi" });
        var csi = driver.Csi;

        await Task.WhenAll(Enumerable.Range(0, Workers).Select(worker => Task.Run(() => StormAsync(csi, new Random(worker)))));

        var listed = await csi.ListAllAsync();
        var provisioned = listed.Sum(e => e.Volume.CapacityBytes);
        _figures.Case(provisioned <= Limit ? null : $"{provisioned} bytes provisioned under a {Limit}-byte limit");
        var available = (await csi.GetCapacity(new GetCapacityRequest())).AvailableCapacity;
        _figures.Case(available == Limit - provisioned ? null : $"GetCapacity says {available} available with {provisioned} of {Limit} provisioned");
        foreach (var entry in listed.Where(e => !_volumeIds.ContainsKey(e.Volume.VolumeId)))
        {
            _figures.Case($"volume {entry.Volume.VolumeId} exists but no answer ever named it");
        }
        foreach (var snapshot in (await csi.ListAllSnapshotsAsync()).Where(s => !_snapshotIds.ContainsKey(s.SnapshotId)))
        {
            _figures.Case($"snapshot {snapshot.SnapshotId} exists but no answer ever named it");
        }

        foreach (var id in _snapshotIds.Keys)
        {
            await csi.DeleteSnapshot(id);
        }
        foreach (var id in _volumeIds.Keys)
        {
            await csi.DeleteVolume(id);
        }
        _figures.Case((await csi.ListAllAsync()).Count == 0 ? null : "volumes remain after deleting every id answered");
        _figures.Case((await csi.ListAllSnapshotsAsync()).Count == 0 ? null : "snapshots remain after deleting every id answered");
        var after = (await csi.GetCapacity(new GetCapacityRequest())).AvailableCapacity;
        _figures.Case(after == Limit ? null : $"GetCapacity says {after} available with nothing provisioned");
        await driver.StopAsync();
        _figures.Report(output);
    }

    private async Task StormAsync(CsiClient csi, Random random)
    {
        for (var i = 0; i < CallsPerWorker; i++)
        {
            var name = VolumeNames[random.Next(VolumeNames.Length)];
            var size = SizeOf(name);
            switch (random.Next(8))
            {
                case 0 or 1 or 2:
                    await CallAsync("CreateVolume", async () => Remember(_volumeIds, (await csi.CreateVolume(Volumes.Request(name, requiredBytes: size))).Volume.VolumeId, name),
                        StatusCode.ResourceExhausted, StatusCode.AlreadyExists, StatusCode.Aborted);
                    break;
                case 3:
                    // The same name with another size: a conflict, unless nothing holds the name.
                    await CallAsync("conflicting CreateVolume", async () => Remember(_volumeIds, (await csi.CreateVolume(Volumes.Request(name, requiredBytes: size + Volumes.MiB, limitBytes: size + Volumes.MiB))).Volume.VolumeId, name),
                        StatusCode.AlreadyExists, StatusCode.ResourceExhausted, StatusCode.Aborted);
                    break;
                case 4:
                    await CallAsync("DeleteVolume", () => csi.DeleteVolume(AnyIdOf(_volumeIds, name, random)), StatusCode.Aborted, StatusCode.FailedPrecondition);
                    break;
                case 5:
                    var snapshot = SnapshotNames[random.Next(SnapshotNames.Length)];
                    await CallAsync("CreateSnapshot", async () => Remember(_snapshotIds, (await csi.CreateSnapshot(Snapshots.Request(snapshot, AnyIdOf(_volumeIds, name, random)))).Snapshot.SnapshotId, snapshot),
                        StatusCode.NotFound, StatusCode.AlreadyExists, StatusCode.Aborted);
                    break;
                case 6:
                    await CallAsync("DeleteSnapshot", () => csi.DeleteSnapshot(AnyIdOf(_snapshotIds, SnapshotNames[random.Next(SnapshotNames.Length)], random)), StatusCode.Aborted);
                    break;
                default:
                    await CallAsync("ControllerExpandVolume", () => csi.ControllerExpandVolume(new ControllerExpandVolumeRequest
                    {
                        VolumeId = AnyIdOf(_volumeIds, name, random),
                        CapacityRange = new CapacityRange { RequiredBytes = size * 2 },
                    }), StatusCode.NotFound, StatusCode.ResourceExhausted, StatusCode.Aborted);
                    break;
            }
            var capacity = (await csi.GetCapacity(new GetCapacityRequest())).AvailableCapacity;
            _figures.Case(capacity is >= 0 and <= Limit ? null : $"GetCapacity said {capacity} under a {Limit}-byte limit");
        }
    }

    /// <summary>One call: success or one of the allowed statuses (with a message) passes.</summary>
    private async Task CallAsync(string what, Func<Task> call, params StatusCode[] allowed)
    {
        try
        {
            await call();
            _figures.Case();
        }
        catch (RpcException e)
        {
            _figures.Count($"{what} {e.Status}");
            _figures.Case(allowed.Contains(e.Status) && !string.IsNullOrWhiteSpace(e.Message) ? null : $"{what}: {e.Status} '{e.Message}'");
        }
    }

    /// <summary>Sizes from 64 to 384 MiB, one per name: all six together overrun the 1 GiB limit.</summary>
    private static long SizeOf(string name) => (1 + Array.IndexOf(VolumeNames, name)) * 64 * Volumes.MiB;

    private static void Remember(ConcurrentDictionary<string, string> ids, string id, string name) => ids[id] = name;

    /// <summary>An id some answer gave for <paramref name="name"/> (maybe deleted since), or one
    /// no driver issued.</summary>
    private static string AnyIdOf(ConcurrentDictionary<string, string> ids, string name, Random random)
    {
        var known = ids.Where(p => p.Value == name).Select(p => p.Key).ToList();
        return known.Count == 0 ? Snapshots.NeverCreated() : known[random.Next(known.Count)];
    }
}
