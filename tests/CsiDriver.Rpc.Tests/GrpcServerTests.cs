using CsiDriver.Rpc.Tests.Echo;
using CsiDriver.Rpc.Tests.Support;
using Google.Protobuf;

namespace CsiDriver.Rpc.Tests;

/// <summary>Our server and our client over a real unix socket; one fresh server per test.</summary>
public partial class GrpcServerTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private GrpcClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _client = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Unary_call_returns_the_reply_and_is_observed_once_with_its_request()
    {
        var request = new EchoRequest { Text = "hello", Payload = ByteString.CopyFrom(new byte[100]) };
        var reply = await _client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), request);
        Assert.Equal("hello", reply.Text);
        Assert.Equal(100, reply.Index);

        var completion = await _server.WaitForCompletionAsync("/formation.test.Echo/Say");
        Assert.Equal(StatusCode.OK, completion.Status);
        Assert.Null(completion.StatusMessage);
        Assert.Equal(request, completion.Request);
        Assert.True(completion.Duration >= TimeSpan.Zero);
    }

    [Theory]
    [InlineData(StatusCode.NotFound, "volume vol-1 not found")]
    [InlineData(StatusCode.OutOfRange, "capacity 100% exceeded: größer als 卷 ✓ %41")]
    [InlineData(StatusCode.FailedPrecondition, "line one\nline two, with a comma; and \"quotes\"")]
    public async Task Handler_status_and_message_reach_the_client(StatusCode status, string message)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _client.UnaryAsync<FailRequest, EchoReply>(
            EchoService.Method("Fail"), new FailRequest { Code = (int)status, Message = message }));
        Assert.Equal(status, ex.Status);
        Assert.Equal(message, ex.Message);

        var completion = await _server.WaitForCompletionAsync("/formation.test.Echo/Fail");
        Assert.Equal(status, completion.Status);
        Assert.Equal(message, completion.StatusMessage);
    }

    [Theory]
    [InlineData("/formation.test.Nope/Say", "Service 'formation.test.Nope' is not implemented")]
    [InlineData("/formation.test.Echo/Shout", "Method 'Shout' of service 'formation.test.Echo' is not implemented")]
    [InlineData("/formation.test.Echo/Unbound", "Method 'Unbound' of service 'formation.test.Echo' is not implemented")]
    [InlineData("/", "Service '' is not implemented")]
    public async Task Unknown_or_unbound_methods_answer_unimplemented(string path, string message)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            _client.UnaryAsync<EchoRequest, EchoReply>(path, new EchoRequest { Text = "x" }));
        Assert.Equal(StatusCode.Unimplemented, ex.Status);
        Assert.Equal(message, ex.Message);
        Assert.Equal(StatusCode.Unimplemented, (await _server.WaitForCompletionAsync(path)).Status);
    }

    [Fact]
    public async Task An_exception_the_service_translates_reaches_the_client_with_its_status()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            _client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "translate" }));
        Assert.Equal(StatusCode.FailedPrecondition, ex.Status);
        Assert.Equal(EchoService.TranslatedDetail, ex.Message);
        Assert.Equal(StatusCode.FailedPrecondition, (await _server.WaitForCompletionAsync("/formation.test.Echo/Say")).Status);
    }

    [Fact]
    public async Task Handler_exception_is_internal_and_leaks_nothing()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            _client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "throw" }));
        Assert.Equal(StatusCode.Internal, ex.Status);
        Assert.DoesNotContain("hunter2", ex.Message);
        Assert.DoesNotContain("InvalidOperationException", ex.Message);
        Assert.Equal("Exception was thrown by handler.", ex.Message);
        Assert.Equal(StatusCode.Internal, (await _server.WaitForCompletionAsync("/formation.test.Echo/Say")).Status);
    }

    [Fact]
    public async Task Oversize_request_is_resource_exhausted()
    {
        var request = new EchoRequest { Payload = ByteString.CopyFrom(new byte[_server.Options.MaxReceiveMessageSize + 1]) };
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            _client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), request));
        Assert.Equal(StatusCode.ResourceExhausted, ex.Status);
        Assert.Contains("larger than max", ex.Message);
        Assert.Contains($"vs. {4 * 1024 * 1024} bytes", ex.Message);

        // The connection is still good for the next call.
        var reply = await _client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "after" });
        Assert.Equal("after", reply.Text);
    }

    [Fact]
    public async Task Metadata_is_visible_to_the_handler()
    {
        var binary = new byte[] { 0, 1, 2, 250, 255 };
        var options = new CallOptions
        {
            Headers = new Dictionary<string, string>
            {
                ["X-Tenant"] = "blue",
                ["x-trace-bin"] = Convert.ToBase64String(binary).TrimEnd('='),
            },
            Timeout = TimeSpan.FromMinutes(5),
        };
        await _client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "m" }, options);

        var context = _server.Service.LastContext!;
        Assert.Equal("/formation.test.Echo/Say", context.Method);
        Assert.Equal("blue", context.RequestHeaders["x-tenant"]);
        Assert.Equal(binary, context.RequestBinaryHeaders["x-trace-bin"]);
        Assert.False(context.RequestHeaders.ContainsKey("grpc-timeout"));
        Assert.False(context.RequestHeaders.ContainsKey("content-type"));
        Assert.NotNull(context.Deadline);
        Assert.InRange(context.Deadline!.Value, DateTime.UtcNow.AddMinutes(4), DateTime.UtcNow.AddMinutes(5));
        Assert.Null(context.ClientCertificate);
    }

    /// <summary>The connection is made first: with it in the deadline, a loaded machine let the
    /// client give up before the request reached the handler, which then never ran to be cancelled.</summary>
    [Fact]
    public async Task Deadline_cancels_the_handler_and_ends_the_call()
    {
        await _client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "connect" });
        var call = _client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "wait" },
            new CallOptions { Timeout = TimeSpan.FromSeconds(1) });
        await _server.Service.WaitStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var ex = await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal(StatusCode.DeadlineExceeded, ex.Status);
        Assert.True(await _server.Service.WaitCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Client_cancellation_cancels_the_handler()
    {
        using var cancel = new CancellationTokenSource();
        var call = _client.UnaryAsync<EchoRequest, EchoReply>(EchoService.Method("Say"), new EchoRequest { Text = "wait" },
            new CallOptions { CancellationToken = cancel.Token });
        await _server.Service.WaitStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        cancel.Cancel();
        var ex = await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal(StatusCode.Cancelled, ex.Status);
        Assert.True(await _server.Service.WaitCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(StatusCode.Cancelled, (await _server.WaitForCompletionAsync("/formation.test.Echo/Say")).Status);
    }
}
