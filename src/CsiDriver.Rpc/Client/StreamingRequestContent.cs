using System.Buffers;
using CsiDriver.Rpc.Protocol;
using Google.Protobuf;

namespace CsiDriver.Rpc.Client;

/// <summary>
/// A request body written message by message while the response is being read: HttpClient hands
/// us the request stream, and it stays open until <see cref="Complete"/> ends the request half.
/// </summary>
internal sealed class StreamingRequestContent : HttpContent
{
    private readonly TaskCompletionSource<Stream> _stream = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task WriteAsync(IMessage message, CancellationToken cancellationToken)
    {
        if (_completed.Task.IsCompleted)
        {
            throw new InvalidOperationException("The request stream is complete; no more messages can be written.");
        }
        var stream = await _stream.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        var (frame, length) = MessageFraming.RentFrame(message);
        try
        {
            await stream.WriteAsync(frame.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // The stream is done with the bytes once the write completes (failed or not).
            ArrayPool<byte>.Shared.Return(frame);
        }
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public void Complete() => _completed.TrySetResult();

    protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken)
    {
        _stream.TrySetResult(stream);
        await _completed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        _stream.TrySetCanceled();
        _completed.TrySetCanceled();
        base.Dispose(disposing);
    }
}
