using CsiDriver.Rpc.Tests.Echo;
using CsiDriver.Rpc.Tests.Support;

namespace CsiDriver.Rpc.Tests;

/// <summary>A binding's request check runs before every unary and server-streaming handler.</summary>
public partial class GrpcServerTests
{
    [Fact]
    public async Task A_request_check_refuses_before_the_handler_runs_and_the_refusal_is_observed()
    {
        var service = new EchoService();
        var binding = EchoService.Bind(service).CheckingRequests(request =>
        {
            if (request is EchoRequest { Text.Length: > 5 })
            {
                throw new RpcException(StatusCode.InvalidArgument, "text is longer than 5 characters");
            }
        });
        var completions = new System.Collections.Concurrent.ConcurrentQueue<CallCompletion>();
        var options = new GrpcServerOptions { OnCallCompleted = completions.Enqueue };
        options.Endpoints.Add(new ServerEndpoint.UnixSocket(Path.Combine(_server.Directory, "checked.sock")));
        await using var server = new GrpcServer(options, [binding]);
        await server.StartAsync();
        using var client = GrpcClient.ForUnixSocket(Path.Combine(_server.Directory, "checked.sock"));

        Assert.Equal("short", (await client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "short" })).Text);
        var refused = await Assert.ThrowsAsync<RpcException>(() =>
            client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "far too long" }));
        Assert.Equal(StatusCode.InvalidArgument, refused.Status);
        var streamed = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.ServerStreamingAsync<EchoRequest, EchoReply>(EchoService.Method("Count"), new EchoRequest { Text = "far too long", Count = 3 }).ToListAsync());
        Assert.Equal(StatusCode.InvalidArgument, streamed.Status);

        Assert.Single(service.SayContexts);
        // The observer runs after the status is sent: wait for it, boundedly.
        for (var i = 0; i < 200 && !completions.Any(c => c.Status == StatusCode.InvalidArgument && c.Method.EndsWith("/Say")); i++)
        {
            await Task.Delay(50);
        }
        var observed = completions.Single(c => c.Status == StatusCode.InvalidArgument && c.Method.EndsWith("/Say"));
        Assert.Equal("far too long", ((EchoRequest)observed.Request!).Text);
    }
}
