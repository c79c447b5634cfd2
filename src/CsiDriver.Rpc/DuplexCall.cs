using CsiDriver.Rpc.Client;
using Google.Protobuf;

namespace CsiDriver.Rpc;

/// <summary>
/// A bidirectional-streaming call in progress. Writes must not overlap; <see cref="CompleteAsync"/>
/// ends the request stream. Disposing cancels the call if it is still running.
/// </summary>
public sealed class DuplexCall<TRequest, TResponse> : IAsyncDisposable
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>, new()
{
    private readonly ClientCall<TResponse> _call;
    private readonly StreamingRequestContent _content;
    private readonly Task _sent;

    internal DuplexCall(ClientCall<TResponse> call, StreamingRequestContent content)
    {
        _call = call;
        _content = content;
        _sent = call.SendAsync();
        ResponseStream = ReadResponsesAsync();
    }

    public IAsyncEnumerable<TResponse> ResponseStream { get; }

    public Task WriteAsync(TRequest message) => WriteAsync(_content.WriteAsync(message, _call.CancellationToken));

    /// <summary>Writes a request message the caller encoded and framed itself: the 5-byte gRPC
    /// prefix (flag 0, big-endian length), then the message's bytes. For a caller that builds a
    /// large message in a buffer of its own, which is then not copied again into a frame.</summary>
    public Task WriteFrameAsync(ReadOnlyMemory<byte> frame) => WriteAsync(_content.WriteFrameAsync(frame, _call.CancellationToken));

    private async Task WriteAsync(Task write)
    {
        try
        {
            await write.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not InvalidOperationException)
        {
            // When the call already ended, its status explains the failed write best.
            if (_sent.IsFaulted && _sent.Exception?.InnerException is RpcException ended)
            {
                throw ended;
            }
            throw _call.Translate(ex);
        }
    }

    public Task CompleteAsync()
    {
        _content.Complete();
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        _call.Dispose();
        try
        {
            await _sent.ConfigureAwait(false);
        }
        catch (RpcException)
        {
            // The call's outcome was the reader's to see.
        }
        _content.Dispose();
    }

    private async IAsyncEnumerable<TResponse> ReadResponsesAsync()
    {
        await _sent.ConfigureAwait(false);
        await foreach (var message in _call.ReadAllAsync().ConfigureAwait(false))
        {
            yield return message;
        }
    }
}
