using CsiDriver.TestSupport;
using CsiDriver.TestSupport.Consistency;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.Demo.Shop;

/// <summary>
/// The shop where the volumes cannot be mounted (not root, no FUSE or loop devices): each order is
/// the engine's atomicity workload transaction, a sale record on the sales volume and then a
/// stock record on the stock volume, written as raw blocks through the site's NBD socket.
/// <see cref="CheckAsync"/> is the workload's checker over any pair of exports.
/// </summary>
public sealed class BlockShop : IBusinessProcess
{
    /// <summary>Records in each volume's ring: the newest 256 orders are always on the volumes.</summary>
    public static readonly TransactionLayout Layout = new(256);

    private readonly NbdBlockDevice _sales;
    private readonly NbdBlockDevice _stock;
    private readonly TransactionWorkload _workload;

    private BlockShop(NbdBlockDevice sales, NbdBlockDevice stock)
    {
        _sales = sales;
        _stock = stock;
        _workload = new TransactionWorkload(sales, stock, Layout);
    }

    public string Kind => "raw block records through NBD (no mount)";

    public long Committed => _workload.Committed;

    public (long Micros, long Count) Latency => (0, 0);

    public static async Task<BlockShop> OpenAsync(string nbdSocket, string salesVolumeId, string stockVolumeId)
    {
        var sales = await NbdBlockDevice.OpenAsync(nbdSocket, salesVolumeId);
        try
        {
            return new BlockShop(sales, await NbdBlockDevice.OpenAsync(nbdSocket, stockVolumeId));
        }
        catch
        {
            await sales.DisposeAsync();
            throw;
        }
    }

    public async Task<Exception?> RunAsync(int ordersPerSecond, CancellationToken stop)
    {
        try
        {
            await _workload.RunAsync(long.MaxValue, TimeSpan.MaxValue, TimeSpan.FromSeconds(1.0 / Math.Max(1, ordersPerSecond)), stop);
            return null;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException)
        {
            return e;
        }
    }

    /// <summary>Reads two exports of a site (clones, promoted replicas) and checks them together.</summary>
    public static async Task<PairCheck> CheckAsync(string nbdSocket, string salesVolumeId, string stockVolumeId, CancellationToken cancellationToken)
    {
        await using var sales = await NbdBlockDevice.OpenAsync(nbdSocket, salesVolumeId);
        await using var stock = await NbdBlockDevice.OpenAsync(nbdSocket, stockVolumeId);
        var report = await ConsistencyChecker.CheckAsync(sales, stock, Layout, cancellationToken);
        var problems = report.Problems.Select(p => p.ToString()).ToList();
        // One order is in flight at a time: a real state has the stock half at most one behind.
        if (report.PrimaryHighest > report.MirrorHighest + 1)
        {
            problems.Add($"{report.PrimaryHighest - report.MirrorHighest - 1} sale(s) without their stock record (orders {report.MirrorHighest + 1}..{report.PrimaryHighest - 1})");
        }
        return new PairCheck(report.PrimaryHighest, report.MirrorHighest, problems, []);
    }

    public async ValueTask DisposeAsync()
    {
        await _sales.DisposeAsync();
        await _stock.DisposeAsync();
    }
}
