using CsiDriver.TestSupport.Consistency;

namespace CsiDriver.Engine.Tests.Consistency;

/// <summary>The workload's bounds: it stops by itself on count, time or cancellation, and what it
/// leaves behind is a consistent pair.</summary>
public sealed class TransactionWorkloadTests : IDisposable
{
    private static readonly TransactionLayout Ring = new(32);

    private readonly TempDirectory _directory = new();
    private readonly StorageEngine _engine;
    private readonly TransactionWorkload _workload;

    public TransactionWorkloadTests()
    {
        _engine = StorageEngine.Open(_directory.Path, new EngineOptions { BackgroundCheckpoints = false });
        _workload = new TransactionWorkload(
            _engine.CreateVolume("primary", Ring.DeviceBytes, "orders"), _engine.CreateVolume("mirror", Ring.DeviceBytes, "orders"), Ring);
    }

    [Fact]
    public async Task StopsAtItsCountAndContinuesOnTheNextRun()
    {
        Assert.Equal(40, await _workload.RunAsync(40, TimeSpan.FromSeconds(30)));
        Assert.Equal(40, await _workload.RunAsync(40, TimeSpan.FromSeconds(30)));
        Assert.Equal(45, await _workload.RunAsync(45, TimeSpan.FromSeconds(30)));
        // Paced from this run's own start: the first one is due at once, not a pace from now.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(46, await _workload.RunAsync(46, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), stop.Token));
        await AssertConsistentAtAsync(46);
    }

    [Fact]
    public async Task StopsAtItsTimeBound()
    {
        var run = _workload.RunAsync(long.MaxValue, TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(1));
        Assert.Same(run, await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(30))));
        await AssertConsistentAtAsync(await run);
    }

    [Fact]
    public async Task CancellationIsAStopNotAFailure()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var committed = await _workload.RunAsync(long.MaxValue, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(1), stop.Token);
        Assert.Equal(_workload.Committed, committed);
        await AssertConsistentAtAsync(committed);
    }

    [Fact]
    public void RefusesDevicesSmallerThanTheRing() =>
        Assert.Throws<ArgumentException>(() => new TransactionWorkload(_engine.CreateVolume("small", 4096), _engine.GetVolume("mirror"), Ring));

    public void Dispose()
    {
        _engine.Dispose();
        _directory.Dispose();
    }

    private async Task AssertConsistentAtAsync(long committed)
    {
        var report = await ConsistencyChecker.CheckAsync(_engine.GetVolume("primary"), _engine.GetVolume("mirror"), Ring);
        Assert.True(report.IsConsistent, report.ToString());
        Assert.Equal((committed, committed), (report.PrimaryHighest, report.MirrorHighest));
    }
}
