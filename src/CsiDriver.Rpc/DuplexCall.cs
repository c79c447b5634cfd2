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

    public async Task WriteAsync(TRequest message)
    {
        try
        {
            await _content.WriteAsync(message, _call.CancellationToken).ConfigureAwait(false);
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
