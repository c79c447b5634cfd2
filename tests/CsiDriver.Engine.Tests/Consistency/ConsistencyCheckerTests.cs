using CsiDriver.TestSupport.Consistency;

namespace CsiDriver.Engine.Tests.Consistency;

/// <summary>The checker over real engine volumes and snapshots: a clean prefix must pass, and every
/// kind of damage it claims to see must be reported when it is built on purpose.</summary>
public sealed class ConsistencyCheckerTests : IDisposable
{
    private static readonly TransactionLayout Ring = new(64);

    private readonly TempDirectory _directory = new();
    private readonly StorageEngine _engine;
    private readonly Volume _primary;
    private readonly Volume _mirror;

    public ConsistencyCheckerTests()
    {
        _engine = StorageEngine.Open(_directory.Path, new EngineOptions { BackgroundCheckpoints = false });
        _primary = _engine.CreateVolume("primary", Ring.DeviceBytes, "orders");
        _mirror = _engine.CreateVolume("mirror", Ring.DeviceBytes, "orders");
    }

    [Fact]
    public async Task EmptyDevicesAreConsistent()
    {
        var report = await ConsistencyChecker.CheckAsync(_primary, _mirror, Ring);
        Assert.True(report.IsConsistent, report.ToString());
        Assert.Equal((0L, 0L), (report.PrimaryHighest, report.MirrorHighest));
    }

    [Theory]
    [InlineData(10)]   // part of the ring
    [InlineData(64)]   // exactly one lap
    [InlineData(150)]  // wrapped twice
    public async Task WorkloadPrefixIsConsistent(int transactions)
    {
        var workload = new TransactionWorkload(_primary, _mirror, Ring);
        Assert.Equal(transactions, await workload.RunAsync(transactions, TimeSpan.FromSeconds(30)));
        var report = await ConsistencyChecker.CheckAsync(_primary, _mirror, Ring);
        Assert.True(report.IsConsistent, report.ToString());
        Assert.Equal((transactions, (long)transactions), (report.PrimaryHighest, report.MirrorHighest));
    }

    [Fact]
    public async Task PrimaryOneAheadIsConsistent()
    {
        await new TransactionWorkload(_primary, _mirror, Ring).RunAsync(80, TimeSpan.FromSeconds(30));
        await WriteAsync(_primary, TransactionSide.Primary, 81);
        var report = await ConsistencyChecker.CheckAsync(_primary, _mirror, Ring);
        Assert.True(report.IsConsistent, report.ToString());
        Assert.Equal((81L, 80L), (report.PrimaryHighest, report.MirrorHighest));
    }

    [Fact]
    public async Task MirrorAheadIsTheViolation()
    {
        await new TransactionWorkload(_primary, _mirror, Ring).RunAsync(70, TimeSpan.FromSeconds(30));
        await WriteAsync(_mirror, TransactionSide.Mirror, 71);
        var report = await ConsistencyChecker.CheckAsync(_primary, _mirror, Ring);
        Assert.True(report.MirrorAhead, report.ToString());
        Assert.Equal(1, report.ProblemCount);
        Assert.Equal((70L, 71L), (report.PrimaryHighest, report.MirrorHighest));
    }

    [Fact]
    public async Task SnapshotsTakenOneAfterTheOtherShowTheMirrorAhead()
    {
        var workload = new TransactionWorkload(_primary, _mirror, Ring);
        await workload.RunAsync(20, TimeSpan.FromSeconds(30));
        _engine.CreateSnapshot("primary", "primary-early");
        await workload.RunAsync(25, TimeSpan.FromSeconds(30));
        _engine.CreateSnapshot("mirror", "mirror-late");
        var report = await ConsistencyChecker.CheckAsync(_engine.OpenSnapshot("primary-early"), _engine.OpenSnapshot("mirror-late"), Ring);
        Assert.True(report.MirrorAhead, report.ToString());
        Assert.Equal((20L, 25L), (report.PrimaryHighest, report.MirrorHighest));
    }

    [Fact]
    public async Task MissingTransactionIsAGap()
    {
        await new TransactionWorkload(_primary, _mirror, Ring).RunAsync(100, TimeSpan.FromSeconds(30));
        // Transaction 90 lives in slot 25, where 26 was before it; put 26 back.
        await WriteAsync(_primary, TransactionSide.Primary, 26);
        var report = await ConsistencyChecker.CheckAsync(_primary, _mirror, Ring);
        var problem = Assert.Single(report.Problems);
        Assert.Equal((ConsistencyProblemKind.Gap, TransactionSide.Primary, 25), (problem.Kind, problem.Side, problem.Slot));
        Assert.False(report.MirrorAhead);
    }

    [Fact]
    public async Task ZeroedSlotBehindTheNewestIsAGap()
    {
        await new TransactionWorkload(_primary, _mirror, Ring).RunAsync(30, TimeSpan.FromSeconds(30));
        await _mirror.WriteAsync(Ring.OffsetOf(12), new byte[TransactionRecord.Size], fua: false);
        var report = await ConsistencyChecker.CheckAsync(_primary, _mirror, Ring);
        var problem = Assert.Single(report.Problems);
        Assert.Equal((ConsistencyProblemKind.Gap, TransactionSide.Mirror, 11), (problem.Kind, problem.Side, problem.Slot));
    }

    [Fact]
    public async Task TornOrMisplacedRecordsAreCorrupt()
    {
        await new TransactionWorkload(_primary, _mirror, Ring).RunAsync(30, TimeSpan.FromSeconds(30));
        await _primary.WriteAsync(Ring.OffsetOf(5) + 100, new byte[] { 0xFF }, fua: false);
        // A mirror record on the primary, and a record in a slot its number does not map to.
        await WriteAsync(_primary, TransactionSide.Mirror, 7);
        var block = new byte[TransactionRecord.Size];
        new TransactionRecord(TransactionSide.Mirror, 3).Write(block);
        await _mirror.WriteAsync(Ring.OffsetOf(40), block, fua: false);
        var report = await ConsistencyChecker.CheckAsync(_primary, _mirror, Ring);
        Assert.Equal(
            [(TransactionSide.Primary, 4), (TransactionSide.Primary, 6), (TransactionSide.Mirror, 39)],
            report.Problems.Select(p => (p.Side, p.Slot)));
        Assert.All(report.Problems, p => Assert.Equal(ConsistencyProblemKind.Corrupt, p.Kind));
    }

    [Fact]
    public async Task DeviceSmallerThanTheRingIsRefused()
    {
        var small = _engine.CreateVolume("small", Ring.DeviceBytes / 2);
        await Assert.ThrowsAsync<ArgumentException>(() => ConsistencyChecker.CheckAsync(small, _mirror, Ring));
    }

    public void Dispose()
    {
        _engine.Dispose();
        _directory.Dispose();
    }

    private static async Task WriteAsync(IBlockDevice device, TransactionSide side, long transaction)
    {
        var block = new byte[TransactionRecord.Size];
        new TransactionRecord(side, transaction).Write(block);
        await device.WriteAsync(Ring.OffsetOf(transaction), block, fua: false);
    }
}
