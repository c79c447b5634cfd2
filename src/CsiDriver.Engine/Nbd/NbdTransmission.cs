using System.Buffers;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Engine.Nbd;

/// <summary>
/// The transmission phase of one connection. One loop receives requests in order; each is
/// validated, then handled on the thread pool while the loop goes on reading, so many requests
/// are in flight and replies leave in completion order. The device sees byte ranges and
/// buffers only, never wire bytes.
/// </summary>
internal sealed class NbdTransmission(
    long connectionId,
    NbdSession session,
    NbdReceiveBuffer input,
    NbdReplyWriter replies,
    NbdServerOptions options,
    ILogger logger,
    Action abortConnection)
{
    private readonly NbdInflightBudget _budget = new(options.MaxRequestsInFlight, options.MaxBytesInFlight);
    private long _requests;

    public long RequestCount => Interlocked.Read(ref _requests);

    /// <summary>Runs until the client disconnects (NBD_CMD_DISC or hang-up), breaks the protocol,
    /// or <paramref name="stopping"/> fires; then waits for the requests still in flight.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        var headerBytes = new byte[NbdProtocol.RequestHeaderLength];
        try
        {
            while (true)
            {
                await input.ReadExactlyAsync(headerBytes, stopping);
                if (!NbdRequestHeader.TryParse(headerBytes, out var request))
                {
                    NbdLog.ProtocolViolation(logger, connectionId, "bad request magic");
                    return;
                }
                if (request.Command == NbdCommand.Disconnect)
                {
                    return;
                }
                if (request.Command == NbdCommand.Write && request.Length > (uint)options.MaxPayloadBytes)
                {
                    NbdLog.ProtocolViolation(logger, connectionId, $"write of {request.Length} bytes exceeds the {options.MaxPayloadBytes}-byte payload limit");
                    return;
                }
                Interlocked.Increment(ref _requests);
                var error = NbdRequestValidator.Validate(request, session, options);
                await ReceiveAndDispatchAsync(request, error, stopping);
            }
        }
        catch (Exception e) when (NbdErrors.IsDisconnect(e))
        {
            NbdLog.ClientHungUp(logger, connectionId);
        }
        finally
        {
            await _budget.DrainAsync();
        }
    }

    private async Task ReceiveAndDispatchAsync(NbdRequestHeader request, NbdError error, CancellationToken stopping)
    {
        // A WRITE's data must be consumed even when the request is refused, to stay in step.
        var payloadBytes = request.Command == NbdCommand.Write ? (int)request.Length : 0;
        var readBytes = error == NbdError.None && request.Command == NbdCommand.Read ? (int)request.Length : 0;
        long reserved = payloadBytes + readBytes;
        await _budget.AcquireAsync(reserved);
        byte[]? payload = null;
        try
        {
            if (payloadBytes > 0)
            {
                payload = ArrayPool<byte>.Shared.Rent(payloadBytes);
                await input.ReadExactlyAsync(payload.AsMemory(0, payloadBytes), stopping);
            }
        }
        catch
        {
            Finish(payload, reserved);
            throw;
        }
        if (error != NbdError.None)
        {
            NbdLog.RequestFailed(logger, connectionId, request.Command, request.Offset, request.Length, error, null);
            _ = ReplyThenFinishAsync(replies.SendErrorAsync(request.Handle, error, $"{request.Command} refused: {error}"), payload, reserved);
            return;
        }
        ThreadPool.UnsafeQueueUserWorkItem(
            static state => _ = state.Self.HandleAsync(state.Request, state.Payload, state.Reserved),
            (Self: this, Request: request, Payload: payload, Reserved: reserved),
            preferLocal: false);
    }

    private async Task HandleAsync(NbdRequestHeader request, byte[]? payload, long reserved)
    {
        byte[]? readBuffer = null;
        try
        {
            NbdError error;
            try
            {
                readBuffer = await ExecuteAsync(request, payload);
                error = NbdError.None;
            }
            catch (Exception e)
            {
                error = NbdErrors.FromException(e);
                NbdLog.RequestFailed(logger, connectionId, request.Command, request.Offset, request.Length, error, e);
                await replies.SendErrorAsync(request.Handle, error, e.Message);
                return;
            }
            await (readBuffer is not null
                ? replies.SendReadAsync(request.Handle, request.Offset, readBuffer, (int)request.Length)
                : replies.SendSuccessAsync(request.Handle));
        }
        catch (Exception)
        {
            // The reply could not be sent: the client is gone or the stream is broken.
            abortConnection();
        }
        finally
        {
            if (readBuffer is not null)
            {
                ArrayPool<byte>.Shared.Return(readBuffer);
            }
            Finish(payload, reserved);
        }
    }

    /// <summary>Hands a validated request to the device; returns the reply buffer of a READ.</summary>
    private async Task<byte[]?> ExecuteAsync(NbdRequestHeader request, byte[]? payload)
    {
        var device = session.Device;
        var offset = (long)request.Offset;
        var length = (int)request.Length;
        var fua = request.Flags.HasFlag(NbdCommandFlags.Fua);
        switch (request.Command)
        {
            case NbdCommand.Read:
                var buffer = ArrayPool<byte>.Shared.Rent(NbdReplyWriter.ReadPrefix + length);
                try
                {
                    await device.ReadAsync(offset, buffer.AsMemory(NbdReplyWriter.ReadPrefix, length));
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw;
                }
                return buffer;
            case NbdCommand.Write:
                await device.WriteAsync(offset, payload.AsMemory(0, length), fua);
                return null;
            case NbdCommand.Flush:
                await device.FlushAsync();
                return null;
            case NbdCommand.Trim:
                await device.TrimAsync(offset, length);
                if (fua)
                {
                    await device.FlushAsync();
                }
                return null;
            case NbdCommand.WriteZeroes:
                await device.WriteZeroesAsync(offset, length, fua);
                return null;
            default:
                throw new InvalidOperationException($"{request.Command} passed validation but has no handler");
        }
    }

    private async Task ReplyThenFinishAsync(Task reply, byte[]? payload, long reserved)
    {
        try
        {
            await reply;
        }
        catch (Exception)
        {
            abortConnection();
        }
        finally
        {
            Finish(payload, reserved);
        }
    }

    private void Finish(byte[]? payload, long reserved)
    {
        if (payload is not null)
        {
            ArrayPool<byte>.Shared.Return(payload);
        }
        _budget.Release(reserved);
    }
}
