using CsiDriver.Rpc.Tests.Echo;
using Google.Protobuf.Reflection;

namespace CsiDriver.Rpc.Tests.Support;

/// <summary>
/// The test service behind formation.test.Echo. Say's request text picks a behaviour ("throw",
/// "wait"); what handlers saw is kept for the tests to inspect. Unbound stays without a handler.
/// </summary>
internal sealed class EchoService
{
    /// <summary>Words in the exception Say throws for "throw"; none may reach the client.</summary>
    public const string InternalDetail = "connection string Password=hunter2 at /var/lib/secret";

    /// <summary>With GrpcServices="None" no service class is generated; the descriptor comes from reflection.</summary>
    public static ServiceDescriptor Descriptor { get; } = EchoReflection.Descriptor.Services.Single(s => s.Name == "Echo");

    public static MethodDescriptor Method(string name) => Descriptor.FindMethodByName(name);

    public TaskCompletionSource<CallContext> WaitStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource<bool> WaitCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public CallContext? LastContext { get; private set; }

    /// <summary>Every Say call's context, in arrival order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<CallContext> SayContexts { get; } = new();

    /// <summary>The message of the one exception type the Echo service translates itself.</summary>
    public const string TranslatedDetail = "the echo chamber is full";

    /// <summary>The service's own mapping: its domain exception (here TimeoutException) becomes
    /// FAILED_PRECONDITION; anything else is left to the server (INTERNAL, nothing leaked).</summary>
    public static RpcException? Translate(Exception exception) =>
        exception is TimeoutException ? new RpcException(StatusCode.FailedPrecondition, exception.Message) : null;

    public static ServiceBinding Bind(EchoService service) =>
        new ServiceBinding(Descriptor) { TranslateException = Translate }
            .Unary<EchoRequest, EchoReply>("Say", service.SayAsync)
            .Unary<FailRequest, EchoReply>("Fail", (request, _) =>
                throw new RpcException((StatusCode)request.Code, request.Message))
            .ServerStreaming<EchoRequest, EchoReply>("Count", CountAsync)
            .DuplexStreaming<EchoRequest, EchoReply>("Chat", ChatAsync)
            .ClientStreaming<EchoRequest, EchoReply>("Collect", CollectAsync);

    private async Task<EchoReply> SayAsync(EchoRequest request, CallContext context)
    {
        LastContext = context;
        SayContexts.Enqueue(context);
        switch (request.Text)
        {
            case "throw":
                throw new InvalidOperationException(InternalDetail);
            case "translate":
                throw new TimeoutException(TranslatedDetail);
            case "wait":
                WaitStarted.TrySetResult(context);
                try
                {
                    await Task.Delay(Timeout.InfiniteTimeSpan, context.CancellationToken);
                }
                catch (OperationCanceledException)
                {
                    WaitCancelled.TrySetResult(true);
                    throw;
                }
                break;
        }
        return new EchoReply { Text = request.Text, Index = request.Payload.Length };
    }

    /// <summary>Sends Count replies; with text "fail-after", then fails, so the status follows messages.</summary>
    private static async Task CountAsync(EchoRequest request, IResponseStream<EchoReply> responses, CallContext context)
    {
        for (var i = 0; i < request.Count; i++)
        {
            await responses.WriteAsync(new EchoReply { Text = request.Text, Index = i }, context.CancellationToken);
        }
        if (request.Text == "fail-after")
        {
            throw new RpcException(StatusCode.Aborted, "stopped after the messages");
        }
    }

    private static async Task ChatAsync(IAsyncEnumerable<EchoRequest> requests, IResponseStream<EchoReply> responses, CallContext context)
    {
        var index = 0;
        await foreach (var request in requests)
        {
            await responses.WriteAsync(new EchoReply { Text = request.Text.ToUpperInvariant(), Index = index++ }, context.CancellationToken);
        }
    }

    private static async Task<EchoReply> CollectAsync(IAsyncEnumerable<EchoRequest> requests, CallContext context)
    {
        var texts = new List<string>();
        await foreach (var request in requests)
        {
            texts.Add(request.Text);
        }
        return new EchoReply { Text = string.Join(' ', texts), Index = texts.Count };
    }
}
