using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.TestSupport;
using CsiDriver.TestSupport.Consistency;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.ConformanceTests.Atomicity;

/// <summary>
/// Two block volumes created through CSI in one consistency group, written through the
/// driver's NBD socket by a <see cref="TransactionWorkload"/> (primary first, mirror after the
/// acknowledgement) running steadily in the background until disposed or its bounds are reached.
/// Disposal stops the workload, disconnects and deletes both volumes.
/// </summary>
public sealed class MirroredVolumes : IAsyncDisposable
{
    /// <summary>A ring of 256 records: 1 MiB per volume, what the checker reads per device.</summary>
    public static readonly TransactionLayout Layout = new(256);

    /// <summary>At most 500 transactions a second: the load moves between any two snapshots,
    /// and leaves the two shared cores to the snapshot, clone and delete work under test.</summary>
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(2);

    /// <summary>Only a guard against a test that never stops it: the tests stop the load when
    /// their checks are done, however long a loaded machine takes for them.</summary>
    private static readonly TimeSpan LongestRun = TimeSpan.FromMinutes(10);
    private const long MostTransactions = 2_000_000;

    private readonly CsiClient _csi;
    private readonly CancellationTokenSource _stop = new();
    private readonly NbdBlockDevice _primaryDevice;
    private readonly NbdBlockDevice _mirrorDevice;
    private readonly Task<long> _running;

    private MirroredVolumes(CsiClient csi, string primary, string mirror, NbdBlockDevice primaryDevice, NbdBlockDevice mirrorDevice)
    {
        _csi = csi;
        PrimaryId = primary;
        MirrorId = mirror;
        _primaryDevice = primaryDevice;
        _mirrorDevice = mirrorDevice;
        Workload = new TransactionWorkload(primaryDevice, mirrorDevice, Layout);
        _running = Task.Run(() => Workload.RunAsync(MostTransactions, LongestRun, Pace, _stop.Token));
    }

    public string PrimaryId { get; }

    public string MirrorId { get; }

    public TransactionWorkload Workload { get; }

    /// <summary>The workload's run: ends with the newest committed transaction when stopped, or
    /// with the first write that failed.</summary>
    public Task<long> Running => _running;

    public static async Task<MirroredVolumes> StartAsync(CsiClient csi, string nbdSocket, string consistencyGroup)
    {
        var primary = await CreateAsync(csi, "primary", consistencyGroup);
        var mirror = await CreateAsync(csi, "mirror", consistencyGroup);
        var primaryDevice = await NbdBlockDevice.OpenAsync(nbdSocket, primary);
        var mirrorDevice = await NbdBlockDevice.OpenAsync(nbdSocket, mirror);
        return new MirroredVolumes(csi, primary, mirror, primaryDevice, mirrorDevice);
    }

    /// <summary>Waits (bounded) until the workload has committed <paramref name="transactions"/>,
    /// so snapshots are taken of volumes already under load.</summary>
    public async Task WaitForAsync(long transactions)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (Workload.Committed < transactions)
        {
            Assert.False(_running.IsCompleted, $"the workload stopped at {Workload.Committed}: {_running.Exception}");
            Assert.True(DateTime.UtcNow < deadline, $"the workload committed only {Workload.Committed} of {transactions} in 20 s");
            await Task.Delay(10);
        }
    }

    /// <summary>Stops the workload and returns how many transactions it committed; a workload that
    /// failed (an NBD error) fails the test here.</summary>
    public async Task<long> StopAsync()
    {
        await _stop.CancelAsync();
        return await _running;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _running;
        }
        finally
        {
            await _primaryDevice.DisposeAsync();
            await _mirrorDevice.DisposeAsync();
            await _csi.DeleteVolume(PrimaryId);
            await _csi.DeleteVolume(MirrorId);
            _stop.Dispose();
        }
    }

    private static async Task<string> CreateAsync(CsiClient csi, string role, string consistencyGroup)
    {
        var request = Volumes.Request(Volumes.UniqueName(role), Volumes.Block(), Layout.DeviceBytes);
        request.Parameters["consistencyGroup"] = consistencyGroup;
        return (await csi.CreateVolume(request)).Volume.VolumeId;
    }
}
