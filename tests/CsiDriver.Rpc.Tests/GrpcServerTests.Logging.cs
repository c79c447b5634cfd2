using CsiDriver.Rpc.Tests.Echo;
using CsiDriver.Rpc.Tests.Support;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Rpc.Tests;

public partial class GrpcServerTests
{
    [Fact]
    public async Task Handler_exception_is_logged_and_request_contents_never_are()
    {
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        await using var server = await TestServer.StartAsync(options => options.LoggerFactory = loggerFactory);
        using var client = server.CreateClient();
        const string secret = "csi-secret-value-42";

        await client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = secret });
        await Assert.ThrowsAsync<RpcException>(() =>
            client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "throw" }));
        await server.WaitForCompletionCountAsync(2);

        var failure = Assert.Single(logs.Entries, e => e.Exception is not null && e.Category == "CsiDriver.Rpc");
        Assert.Equal(LogLevel.Error, failure.Level);
        Assert.Contains("/formation.test.Echo/Say", failure.Message);
        Assert.Equal(EchoService.InternalDetail, failure.Exception!.Message);
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains(secret, StringComparison.Ordinal));
        // One line per call is the observer's to write: the framework adds none per request.
        Assert.DoesNotContain(logs.Entries, e => e.Category.StartsWith("Microsoft.", StringComparison.Ordinal) && e.Level < LogLevel.Warning);
    }

    [Fact]
    public async Task Stop_ends_calls_still_running_after_the_shutdown_timeout()
    {
        await using var server = await TestServer.StartAsync(options => options.ShutdownTimeout = TimeSpan.FromMilliseconds(200));
        using var client = server.CreateClient();
        var call = client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "wait" });
        await server.Service.WaitStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));

        await server.Server.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(await server.Service.WaitCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.False(File.Exists(server.SocketPath));
    }
}
