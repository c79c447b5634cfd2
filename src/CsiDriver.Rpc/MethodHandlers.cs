namespace CsiDriver.Rpc;

/// <summary>Where a handler writes the messages of a streaming response, in order.</summary>
public interface IResponseStream<in T>
{
    Task WriteAsync(T message, CancellationToken cancellationToken = default);
}

public delegate Task<TResponse> UnaryHandler<TRequest, TResponse>(TRequest request, CallContext context);

public delegate Task ServerStreamingHandler<TRequest, TResponse>(
    TRequest request, IResponseStream<TResponse> responses, CallContext context);

public delegate Task<TResponse> ClientStreamingHandler<TRequest, TResponse>(
    IAsyncEnumerable<TRequest> requests, CallContext context);

public delegate Task DuplexStreamingHandler<TRequest, TResponse>(
    IAsyncEnumerable<TRequest> requests, IResponseStream<TResponse> responses, CallContext context);
