using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>The fault proxy the replication tests put between the sites, checked against a
/// loopback echo server: it forwards intact and in order under jitter, delays by at least what
/// it is told, cuts live connections, refuses new ones while down, and paces throughput.
/// Durations are asserted only as lower bounds, which a slow machine cannot break.</summary>
public sealed class FaultyLinkTests : IAsyncLifetime
{
    private readonly TcpListener _echo = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private Task _echoing = Task.CompletedTask;
    private FaultyLink _link = null!;

    public Task InitializeAsync()
    {
        _echo.Start();
        _echoing = Task.Run(EchoAsync);
        _link = FaultyLink.Start((IPEndPoint)_echo.LocalEndpoint);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _link.DisposeAsync();
        await _stop.CancelAsync();
        _echo.Stop();
        await _echoing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    [Fact]
    public async Task Bytes_arrive_intact_and_in_order_under_jitter()
    {
        _link.Jitter = TimeSpan.FromMilliseconds(5);
        using var client = await ConnectAsync();
        var sent = new byte[3 << 20];
        new Random(6).NextBytes(sent);

        var receiving = ReadExactlyAsync(client, sent.Length);
        for (var offset = 0; offset < sent.Length; offset += 1000)
        {
            await client.SendAsync(sent.AsMemory(offset, Math.Min(1000, sent.Length - offset)));
        }

        var echoed = await receiving;
        Assert.True(sent.AsSpan().SequenceEqual(echoed), "the echo through the link differs from what was sent");
        Assert.True(_link.BytesForwarded >= 2L * sent.Length, $"{_link.BytesForwarded} bytes forwarded");
    }

    [Fact]
    public async Task A_round_trip_takes_at_least_the_delay_each_way()
    {
        _link.Delay = TimeSpan.FromMilliseconds(150);
        using var client = await ConnectAsync();

        var clock = Stopwatch.StartNew();
        await client.SendAsync(new byte[] { 42 });
        var echoed = await ReadExactlyAsync(client, 1);

        Assert.Equal(42, echoed[0]);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(295), $"round trip took {clock.Elapsed.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task Disconnect_resets_a_live_connection_and_new_ones_still_work()
    {
        using var client = await ConnectAsync();
        await client.SendAsync(new byte[] { 1 });
        await ReadExactlyAsync(client, 1);
        Assert.Equal(1, _link.LiveConnections);

        _link.Disconnect();

        await AssertCutAsync(client);
        using var again = await ConnectAsync();
        await again.SendAsync(new byte[] { 2 });
        Assert.Equal(2, (await ReadExactlyAsync(again, 1))[0]);
    }

    [Fact]
    public async Task While_down_new_connections_are_refused_and_after_up_they_work()
    {
        _link.Down();

        try
        {
            using var refused = await ConnectAsync();
            await AssertCutAsync(refused);
        }
        catch (SocketException)
        {
            // Reset before the connect call returned: refused just the same.
        }
        Assert.True(_link.ConnectionsRefused >= 1);

        _link.Up();
        using var accepted = await ConnectAsync();
        await accepted.SendAsync(new byte[] { 3 });
        Assert.Equal(3, (await ReadExactlyAsync(accepted, 1))[0]);
    }

    [Fact]
    public async Task The_throughput_limit_paces_a_transfer()
    {
        _link.BytesPerSecond = 2 << 20;
        using var client = await ConnectAsync();
        var payload = new byte[1 << 20];

        var clock = Stopwatch.StartNew();
        var receiving = ReadExactlyAsync(client, payload.Length);
        await client.SendAsync(payload);
        await receiving;

        // 1 MiB at 2 MiB/s, each way: the first chunk goes at once, the rest is paced.
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(400), $"1 MiB echoed in {clock.Elapsed.TotalMilliseconds:0} ms");
    }

    private async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, _link.Port);
        return socket;
    }

    /// <summary>The connection is gone: a read ends (reset or end of stream) within a bound.</summary>
    private static async Task AssertCutAsync(Socket client)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[16];
        try
        {
            while (true)
            {
                await client.SendAsync(new byte[] { 9 }, SocketFlags.None, timeout.Token);
                if (await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) == 0)
                {
                    return;
                }
            }
        }
        catch (SocketException)
        {
            // Reset: cut as expected.
        }
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new byte[count];
        for (var read = 0; read < count;)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, timeout.Token);
            Assert.True(n > 0, $"connection ended after {read} of {count} bytes");
            read += n;
        }
        return buffer;
    }

    private async Task EchoAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (true)
            {
                var socket = await _echo.AcceptSocketAsync(_stop.Token);
                connections.Add(Task.Run(async () =>
                {
                    using var _ = socket;
                    var buffer = new byte[64 * 1024];
                    try
                    {
                        int n;
                        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0)
                        {
                            await socket.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
                        }
                    }
                    catch (Exception e) when (e is SocketException or OperationCanceledException)
                    {
                        // The link reset this connection, or the test ended.
                    }
                }));
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            await Task.WhenAll(connections).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
