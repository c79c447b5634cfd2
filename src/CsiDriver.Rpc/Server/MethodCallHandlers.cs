using Google.Protobuf;

namespace CsiDriver.Rpc.Server;

/// <summary>One handler per method kind; each reads requests and writes responses its own way.</summary>
internal static class RequestParser<T>
    where T : IMessage<T>, new()
{
    public static readonly MessageParser<T> Instance = new(() => new T());
}

internal sealed class UnaryServerCallHandler<TRequest, TResponse>(
    string method, CallSettings settings, UnaryHandler<TRequest, TResponse> handler)
    : ServerCallHandler(method, settings)
    where TRequest : IMessage<TRequest>, new()
    where TResponse : IMessage<TResponse>
{
    protected override async Task HandleCallAsync(ServerCall call)
    {
        var request = await call.ReadSingleRequestAsync(RequestParser<TRequest>.Instance).ConfigureAwait(false);
        call.Request = request;
        Settings.CheckRequest?.Invoke(request);
        var response = await handler(request, call.Context).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"The handler of {Method} returned no response.");
        await call.WriteMessageAsync(response, default).ConfigureAwait(false);
    }
}

internal sealed class ServerStreamingServerCallHandler<TRequest, TResponse>(
    string method, CallSettings settings, ServerStreamingHandler<TRequest, TResponse> handler)
    : ServerCallHandler(method, settings)
    where TRequest : IMessage<TRequest>, new()
    where TResponse : IMessage<TResponse>
{
    protected override async Task HandleCallAsync(ServerCall call)
    {
        var request = await call.ReadSingleRequestAsync(RequestParser<TRequest>.Instance).ConfigureAwait(false);
        call.Request = request;
        Settings.CheckRequest?.Invoke(request);
        await handler(request, new ResponseStream<TResponse>(call), call.Context).ConfigureAwait(false);
    }
}

internal sealed class ClientStreamingServerCallHandler<TRequest, TResponse>(
    string method, CallSettings settings, ClientStreamingHandler<TRequest, TResponse> handler)
    : ServerCallHandler(method, settings)
    where TRequest : IMessage<TRequest>, new()
    where TResponse : IMessage<TResponse>
{
    protected override async Task HandleCallAsync(ServerCall call)
    {
        var requests = call.ReadRequestsAsync(RequestParser<TRequest>.Instance);
        var response = await handler(requests, call.Context).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"The handler of {Method} returned no response.");
        await call.WriteMessageAsync(response, default).ConfigureAwait(false);
    }
}

internal sealed class DuplexStreamingServerCallHandler<TRequest, TResponse>(
    string method, CallSettings settings, DuplexStreamingHandler<TRequest, TResponse> handler, Func<System.Buffers.ReadOnlySequence<byte>, TRequest> decode)
    : ServerCallHandler(method, settings)
    where TRequest : IMessage<TRequest>, new()
    where TResponse : IMessage<TResponse>
{
    protected override Task HandleCallAsync(ServerCall call) =>
        handler(call.ReadRequestsAsync(decode), new ResponseStream<TResponse>(call), call.Context);
}

/// <summary>A path with no handler: an unknown service or method, or a method left unbound.</summary>
internal sealed class UnimplementedServerCallHandler(string method, CallSettings settings, string reason)
    : ServerCallHandler(method, settings)
{
    protected override Task HandleCallAsync(ServerCall call) =>
        throw new RpcException(StatusCode.Unimplemented, reason);
}

internal sealed class ResponseStream<T>(ServerCall call) : IResponseStream<T>
    where T : IMessage<T>
{
    public Task WriteAsync(T message, CancellationToken cancellationToken = default) =>
        call.WriteMessageAsync(message, cancellationToken);
}
