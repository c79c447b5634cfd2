using System.Diagnostics;
using System.Globalization;
using CsiDriver.TestSupport;

namespace CsiDriver.Benchmarks;

/// <summary>
/// Shipping over a long, fat link: the sites on a real network (<see cref="SiteNetwork"/>: veth
/// rated 1 Gbit/s, round trips of 10 and 50 ms), each pinned to its own CPUs. fio writes
/// <see cref="Payload"/> in 1 MiB sequential writes as fast as the main takes them; the time
/// from its start until the backup has applied the last write gives the shipped throughput.
/// A stream whose window (unacknowledged bytes, HTTP/2 flow control) is smaller than the link's
/// bandwidth-delay product cannot fill it: goal ≥ 0.8 of the link's rate at every round trip.
/// </summary>
public sealed class ReplicationWanBenchmark : IBenchmark
{
    private const long LinkBitsPerSecond = 1_000_000_000;
    private const long Payload = 1L << 30;
    private static readonly TimeSpan[] RoundTrips = [TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50)];

    public string Name => "replication-wan";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        if (!SiteNetwork.Available)
        {
            throw new InvalidOperationException("needs root with ip, tc and nsenter to build the network between the sites");
        }
        var figures = new List<BenchmarkFigure>();
        foreach (var roundTrip in RoundTrips)
        {
            using var network = await SiteNetwork.CreateAsync(roundTrip, LinkBitsPerSecond);
            await using var bench = await ReplicationBenchSites.StartAsync(context.Progress, SiteCpus.Split(), network);
            var volume = await bench.CreateVolumeAsync("wan", cancellationToken);
            await bench.ReplicateAsync(volume, "4Gi");

            var clock = Stopwatch.StartNew();
            var written = await FioJob.RunAsync(volume.Fio, "write", "1m", 4, ReplicationBenchSites.VolumeBytes, runtime: null, [$"--io_size={Payload}"], cancellationToken);
            var ingest = clock.Elapsed;
            await bench.DrainAsync(volume);
            var shipped = written.Bytes / 1e6 / clock.Elapsed.TotalSeconds;
            var linkRate = network.BitsPerSecond / 8e6;
            var setting = $"{roundTrip.TotalMilliseconds:0} ms RTT";
            context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   {setting}: {written.Bytes / 1e6:0} MB written in {ingest.TotalSeconds:0.0} s, applied at the backup after {clock.Elapsed.TotalSeconds:0.0} s: " +
                $"{shipped:0} MB/s shipped on a {linkRate:0} MB/s link (bandwidth-delay product {network.BandwidthDelayBytes / 1e6:0.0} MB)"));
            figures.Add(new BenchmarkFigure($"shipped / link rate, {setting}", shipped / linkRate, "ratio", BenchmarkGoal.AtLeast(0.8)));
            figures.Add(new BenchmarkFigure($"shipped throughput, {setting}", shipped, "MB/s"));
            figures.Add(new BenchmarkFigure($"bandwidth-delay product, {setting}", network.BandwidthDelayBytes / 1e6, "MB"));
        }
        return figures;
    }
}
