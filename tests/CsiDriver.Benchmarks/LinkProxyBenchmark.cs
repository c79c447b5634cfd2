using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.TestSupport;

namespace CsiDriver.Benchmarks;

/// <summary>
/// The fault proxy alone: the delayed replication benchmarks hold their round trip in it, in
/// the benchmark process on the main site's CPUs, so what it costs per byte is taken from the
/// main and what it can carry bounds their shipped throughput. A bulk transfer of
/// <see cref="Payload"/> over loopback, sender and sink in this process pinned where the
/// replication benchmarks put it: once direct, then through the proxy at the round trips of
/// <see cref="ReplicationWanBenchmark"/>. The proxy's CPU per GB is the difference to the
/// direct transfer in the same run; its rate should stay well above the 125 MB/s link it stands for.
/// </summary>
public sealed class LinkProxyBenchmark : IBenchmark
{
    private const long Payload = 1L << 30;
    private const int BufferBytes = 1 << 20;
    private static readonly TimeSpan[] RoundTrips = [TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50)];

    public string Name => "link-proxy";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        var cpus = SiteCpus.Split();
        if (cpus is not null)
        {
            SiteCpus.PinThisProcess(cpus.Main);
        }
        try
        {
            var figures = new List<BenchmarkFigure>();
            context.Progress.WriteLine($"   sender, sink and proxy in this process{(cpus is null ? "" : $" on CPU {cpus.Main}")}; {Payload >> 20} MiB each");
            var direct = await TransferAsync(null, cancellationToken);
            Report(context, "direct", direct);
            figures.Add(new BenchmarkFigure("direct throughput", direct.MegabytesPerSecond, "MB/s"));
            foreach (var roundTrip in RoundTrips)
            {
                await using var proxy = new SinkAndProxy(roundTrip / 2);
                var via = await TransferAsync(proxy, cancellationToken);
                var setting = $"{roundTrip.TotalMilliseconds:0} ms RTT";
                Report(context, $"through the proxy, {setting}", via);
                figures.Add(new BenchmarkFigure($"proxy throughput, {setting}", via.MegabytesPerSecond, "MB/s"));
                figures.Add(new BenchmarkFigure($"proxy CPU per GB (over direct), {setting}", via.CpuSecondsPerGigabyte - direct.CpuSecondsPerGigabyte, "CPU s/GB"));
            }
            return figures;
        }
        finally
        {
            if (cpus is not null)
            {
                SiteCpus.UnpinThisProcess();
            }
        }
    }

    private static void Report(BenchmarkContext context, string how, Transfer transfer) =>
        context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   {how}: {transfer.MegabytesPerSecond:0} MB/s, {transfer.CpuSecondsPerGigabyte:0.00} CPU s/GB (sender, sink and proxy)"));

    /// <summary>Sends <see cref="Payload"/> to a sink, through <paramref name="proxy"/>'s link or
    /// (null) straight to a sink of its own.</summary>
    private static async Task<Transfer> TransferAsync(SinkAndProxy? proxy, CancellationToken cancellationToken)
    {
        await using var own = proxy is null ? new SinkAndProxy(null) : null;
        var path = proxy ?? own!;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        using (var sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true })
        {
            await sender.ConnectAsync(path.Entry, cancellationToken);
            var buffer = new byte[BufferBytes];
            Random.Shared.NextBytes(buffer);
            for (long sent = 0; sent < Payload; sent += BufferBytes)
            {
                for (var done = 0; done < buffer.Length;)
                {
                    done += await sender.SendAsync(buffer.AsMemory(done), SocketFlags.None, cancellationToken);
                }
            }
            sender.Shutdown(SocketShutdown.Send);
            var received = await path.ReceivedAsync;
            if (received != Payload)
            {
                throw new InvalidOperationException($"the sink received {received} bytes of {Payload}");
            }
        }
        var seconds = clock.Elapsed.TotalSeconds;
        var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        return new Transfer(Payload / 1e6 / seconds, cpuSeconds / (Payload / 1e9));
    }

    private sealed record Transfer(double MegabytesPerSecond, double CpuSecondsPerGigabyte);

    /// <summary>A sink on loopback that counts what one connection brings until it ends, and
    /// (given a one-way delay) the fault proxy in front of it.</summary>
    private sealed class SinkAndProxy : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly FaultyLink? _link;

        public SinkAndProxy(TimeSpan? oneWayDelay)
        {
            _listener.Start();
            var sink = (IPEndPoint)_listener.LocalEndpoint;
            if (oneWayDelay is { } delay)
            {
                _link = FaultyLink.Start(sink);
                _link.Delay = delay;
            }
            Entry = _link is null ? sink : new IPEndPoint(IPAddress.Loopback, _link.Port);
            ReceivedAsync = DrainOneAsync();
        }

        public IPEndPoint Entry { get; }

        public Task<long> ReceivedAsync { get; }

        private async Task<long> DrainOneAsync()
        {
            using var connection = await _listener.AcceptSocketAsync();
            var buffer = new byte[BufferBytes];
            long total = 0;
            int read;
            while ((read = await connection.ReceiveAsync(buffer, SocketFlags.None)) > 0)
            {
                total += read;
            }
            return total;
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            if (_link is not null)
            {
                await _link.DisposeAsync();
            }
        }
    }
}
