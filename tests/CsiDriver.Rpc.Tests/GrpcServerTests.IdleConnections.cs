using System.Diagnostics;
using System.Net;
using System.Text.Json;
using CsiDriver.Rpc.Tests.Echo;
using CsiDriver.Rpc.Tests.Support;

namespace CsiDriver.Rpc.Tests;

/// <summary>
/// Idle connections: the CSI sidecars (csi-lib-utils) exit when their unix-socket connection to
/// the driver is lost, so a unix listener never closes a connection for idleness; TCP listeners
/// (the site link) close one after <see cref="GrpcServerOptions.TcpIdleConnectionTimeout"/>.
/// </summary>
public partial class GrpcServerTests
{
    /// <summary>Short enough to pass several times over in a test, long past Kestrel's 1 s heartbeat.</summary>
    private static readonly TimeSpan ShortIdleLimit = TimeSpan.FromSeconds(1);

    /// <summary>Idle this long: the limit plus a heartbeat, three times over.</summary>
    private static readonly TimeSpan IdlePeriod = TimeSpan.FromSeconds(6);

    [Fact]
    public async Task A_unix_socket_server_never_closes_an_idle_connection_by_default_and_a_tcp_server_does()
    {
        Assert.Equal(Timeout.InfiniteTimeSpan, _server.Server.IdleConnectionTimeout);

        using var certificates = new TestCertificates();
        await using var tcp = await StartTcpAsync(certificates, certificates.Authorities, new EchoService());
        Assert.Equal(GrpcServerOptions.DefaultTcpIdleConnectionTimeout, tcp.IdleConnectionTimeout);
        Assert.True(tcp.IdleConnectionTimeout > TimeSpan.Zero && tcp.IdleConnectionTimeout < TimeSpan.FromHours(1));
    }

    [Fact]
    public void A_server_refuses_unix_and_tcp_endpoints_together()
    {
        using var certificates = new TestCertificates();
        var options = new GrpcServerOptions();
        options.Endpoints.Add(new ServerEndpoint.UnixSocket(Path.Combine(_server.Directory, "other.sock")));
        options.Endpoints.Add(new ServerEndpoint.Tcp(new IPEndPoint(IPAddress.Loopback, 0), certificates.Server, null));
        var ex = Assert.Throws<ArgumentException>(() => new GrpcServer(options, [EchoService.Bind(new EchoService())]));
        Assert.Contains("idle-connection", ex.Message);
    }

    [Fact]
    public async Task A_client_idle_past_the_limit_is_served_on_the_same_unix_connection_while_tcp_dials_again()
    {
        await using var unix = await TestServer.StartAsync(o => o.TcpIdleConnectionTimeout = ShortIdleLimit);
        Assert.Equal(Timeout.InfiniteTimeSpan, unix.Server.IdleConnectionTimeout);
        using var unixClient = unix.CreateClient();

        using var certificates = new TestCertificates();
        var tcpService = new EchoService();
        await using var tcp = await StartTcpAsync(certificates, certificates.Authorities, tcpService,
            o => o.TcpIdleConnectionTimeout = ShortIdleLimit);
        using var tcpClient = GrpcClient.ForTcp("127.0.0.1", ((IPEndPoint)tcp.BoundEndpoints[0]).Port, certificates.Authorities, certificates.Client);

        await SayAsync(unixClient, "before");
        await SayAsync(tcpClient, "before");
        // Idle until the TCP connection is seen closed (so the idle time really passed the limit,
        // heartbeats included, however loaded the machine); a call that finds it still open
        // starts another idle period. The unix client stays idle throughout.
        var tcpRedialed = false;
        for (var period = 0; period < 5 && !tcpRedialed; period++)
        {
            await Task.Delay(IdlePeriod);
            await SayAsync(tcpClient, "after");
            var tcpCalls = tcpService.SayContexts.ToArray();
            tcpRedialed = tcpCalls[^1].ConnectionId != tcpCalls[^2].ConnectionId;
        }
        Assert.True(tcpRedialed, $"the TCP connection was never closed for idleness in 5 periods of {IdlePeriod}");
        await SayAsync(unixClient, "after");

        // The unix connection, idle at least as long under the same setting, was not closed.
        var unixCalls = unix.Service.SayContexts.ToArray();
        Assert.Equal(2, unixCalls.Length);
        Assert.Equal(unixCalls[0].ConnectionId, unixCalls[1].ConnectionId);
    }

    [Fact]
    public async Task A_grpc_js_client_idle_past_the_limit_keeps_its_connection_ready()
    {
        await using var server = await TestServer.StartAsync(o => o.TcpIdleConnectionTimeout = ShortIdleLimit);
        var output = await RunNodeClientAsync("idle-client.js", $"unix://{server.SocketPath}", ((int)IdlePeriod.TotalMilliseconds).ToString());

        var results = JsonDocument.Parse(output).RootElement;
        Assert.Equal("idle one", results.GetProperty("first").GetString());
        Assert.Equal("idle two", results.GetProperty("second").GetString());
        // grpc-js reports a lost connection as READY → IDLE, which is what makes csi-lib-utils exit.
        Assert.Equal(0, results.GetProperty("transitions").GetArrayLength());
        var calls = server.Service.SayContexts.ToArray();
        Assert.Equal(2, calls.Length);
        Assert.Equal(calls[0].ConnectionId, calls[1].ConnectionId);
    }

    private static async Task SayAsync(GrpcClient client, string text)
    {
        var reply = await client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = text });
        Assert.Equal(text, reply.Text);
    }

    /// <summary>Runs a tests/interop client under node and returns what it printed; fails on a non-zero exit.</summary>
    private static async Task<string> RunNodeClientAsync(string script, params string[] arguments)
    {
        var interop = Path.Combine(RepositoryRoot(), "tests", "interop");
        Assert.True(Directory.Exists(Path.Combine(interop, "node_modules", "@grpc", "grpc-js")),
            $"{interop}/node_modules is missing: run `make test-deps` (tests/scripts/install-deps.sh) first.");
        var start = new ProcessStartInfo("node", [Path.Combine(interop, script), .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = interop,
        };
        using var node = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            try
            {
                await node.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                node.Kill(entireProcessTree: true);
                throw new TimeoutException($"{script} did not finish in 60 s: {await stderr}");
            }
        }
        var output = await stdout;
        Assert.True(node.ExitCode == 0, $"{script} exited {node.ExitCode}: {output} {await stderr}");
        return output;
    }
}
