using System.Net.Sockets;
using CsiDriver.Rpc.Tests.Echo;
using CsiDriver.Rpc.Tests.Support;

namespace CsiDriver.Rpc.Tests;

public partial class GrpcServerTests
{
    [Fact]
    public async Task Stale_socket_file_is_removed_at_start_and_the_socket_at_stop()
    {
        await using var server = await TestServer.StartAsync(beforeStart: path =>
        {
            // A socket bound and closed without unlinking: what a killed process leaves behind.
            using var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            stale.Bind(new UnixDomainSocketEndPoint(path));
            Assert.True(File.Exists(path));
        });
        using (var client = server.CreateClient())
        {
            var reply = await client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "up" });
            Assert.Equal("up", reply.Text);
        }
        Assert.True(File.Exists(server.SocketPath));
        await server.Server.StopAsync();
        Assert.False(File.Exists(server.SocketPath));
    }

    [Fact]
    public async Task A_live_socket_is_not_stolen()
    {
        var options = new GrpcServerOptions();
        options.Endpoints.Add(new ServerEndpoint.UnixSocket(_server.SocketPath));
        await using var second = new GrpcServer(options, [EchoService.Bind(new EchoService())]);
        await Assert.ThrowsAsync<IOException>(() => second.StartAsync());
        // The first server still answers.
        var reply = await _client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "mine" });
        Assert.Equal("mine", reply.Text);
    }

    [Fact]
    public async Task Deadline_follows_the_injected_clock()
    {
        var clock = new ManualTimeProvider();
        await using var server = await TestServer.StartAsync(options => options.TimeProvider = clock);
        using var client = server.CreateClient();
        // The client's own timer is far off; only the server's clock can end this call.
        var call = client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "wait" },
            new CallOptions { Timeout = TimeSpan.FromHours(1) });
        var context = await server.Service.WaitStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(clock.GetUtcNow().UtcDateTime.AddHours(1), context.Deadline);

        clock.Advance(TimeSpan.FromMinutes(59));
        Assert.False(context.CancellationToken.IsCancellationRequested);
        clock.Advance(TimeSpan.FromMinutes(1));

        var ex = await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal(StatusCode.DeadlineExceeded, ex.Status);
        Assert.True(await server.Service.WaitCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        var completion = await server.WaitForCompletionAsync("/formation.test.Echo/Say");
        Assert.Equal(StatusCode.DeadlineExceeded, completion.Status);
    }

    [Fact]
    public async Task Observer_failure_does_not_break_calls()
    {
        await using var server = await TestServer.StartAsync(options => options.OnCallCompleted = _ => throw new InvalidOperationException("observer"));
        using var client = server.CreateClient();
        for (var i = 0; i < 2; i++)
        {
            var reply = await client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "ok" });
            Assert.Equal("ok", reply.Text);
        }
    }

    [Fact]
    public async Task Failed_start_leaves_no_socket_file_behind()
    {
        var directory = Directory.CreateTempSubdirectory("formation-rpc-").FullName;
        try
        {
            var options = new GrpcServerOptions();
            var good = Path.Combine(directory, "good.sock");
            options.Endpoints.Add(new ServerEndpoint.UnixSocket(good));
            options.Endpoints.Add(new ServerEndpoint.UnixSocket(Path.Combine(directory, "missing", "dir.sock")));
            await using var server = new GrpcServer(options, [EchoService.Bind(new EchoService())]);
            await Assert.ThrowsAnyAsync<Exception>(() => server.StartAsync());
            Assert.False(File.Exists(good));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
