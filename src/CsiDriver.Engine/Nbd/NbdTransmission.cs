using System.Buffers;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Engine.Nbd;

/// <summary>
/// The transmission phase of one connection, on the connection's own thread. Requests are
/// received in order; each is validated, then handed to the device without waiting for it, so
/// many requests are in flight and replies leave in completion order. A handler runs inline
/// until the device goes asynchronous, which keeps the common page-cache-speed request free of
/// thread hops; FLUSH and FUA requests, which wait for durability, and every request while the
/// device is seen blocking, start on <see cref="NbdBlockingWorkers"/> instead so they do not hold
/// up the requests behind them. The device sees byte ranges and buffers, never wire bytes.
/// </summary>
internal sealed class NbdTransmission(
    long connectionId,
    NbdSession session,
    NbdReceiveBuffer input,
    NbdReplyWriter replies,
    NbdServerOptions options,
    NbdBlockingWorkers blockingWorkers,
    ILogger logger,
    Action abortConnection)
{
    // A device that blocks instead of going asynchronous (a write throttled by page-cache
    // writeback, say) would hold up every request behind it if run inline. Once an inline handler
    // takes this long, the next requests go to the blocking workers, where they block in
    // parallel; then inline is tried again.
    private static readonly TimeSpan SlowInlineHandler = TimeSpan.FromMicroseconds(50);
    private const int OffloadedRequests = 256;

    private readonly NbdInflightBudget _budget = new(options.MaxRequestsInFlight, options.MaxBytesInFlight);
    private readonly byte[] _header = new byte[NbdProtocol.RequestHeaderLength];
    private int _offloadCountdown;

    public long RequestCount { get; private set; }

    /// <summary>Runs until the client disconnects (NBD_CMD_DISC or hang-up), breaks the protocol,
    /// or the socket is shut down for reading; then waits for the requests still in flight.</summary>
    public void Run()
    {
        try
        {
            while (ReceiveOne())
            {
                RequestCount++;
            }
        }
        catch (Exception e) when (NbdErrors.IsDisconnect(e))
        {
            NbdLog.ClientHungUp(logger, connectionId);
        }
        finally
        {
            _budget.Drain();
        }
    }

    /// <summary>Receives one request and starts it; false when the connection must end.</summary>
    private bool ReceiveOne()
    {
        if (options.IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            // Idle means nothing in flight and nothing sent for the whole timeout; a client
            // waiting on a slow request is not idle.
            while (!input.WaitReadable(options.IdleTimeout))
            {
                if (_budget.IsEmpty)
                {
                    NbdLog.IdleClosed(logger, connectionId, options.IdleTimeout);
                    return false;
                }
            }
        }
        input.ReadExactly(_header);
        if (!NbdRequestHeader.TryParse(_header, out var request))
        {
            NbdLog.ProtocolViolation(logger, connectionId, "bad request magic");
            return false;
        }
        if (request.Command == NbdCommand.Disconnect)
        {
            return false;
        }
        if (request.Command == NbdCommand.Write && request.Length > (uint)options.MaxPayloadBytes)
        {
            NbdLog.ProtocolViolation(logger, connectionId, $"write of {request.Length} bytes exceeds the {options.MaxPayloadBytes}-byte payload limit");
            return false;
        }
        var error = NbdRequestValidator.Validate(request, session, options);
        var (payload, reserved) = Admit(request, error);
        if (error != NbdError.None)
        {
            Refuse(request, error, payload, reserved);
        }
        else
        {
            Start(request, payload, reserved);
        }
        return true;
    }

    /// <summary>Waits for room in the budget, then receives a WRITE's data — even for a refused
    /// request, to stay in step with the stream.</summary>
    private (byte[]? Payload, long Reserved) Admit(in NbdRequestHeader request, NbdError error)
    {
        var payloadBytes = request.Command == NbdCommand.Write ? (int)request.Length : 0;
        var readBytes = error == NbdError.None && request.Command == NbdCommand.Read ? (int)request.Length : 0;
        long reserved = payloadBytes + readBytes;
        _budget.Acquire(reserved);
        byte[]? payload = null;
        try
        {
            if (payloadBytes > 0)
            {
                payload = ArrayPool<byte>.Shared.Rent(payloadBytes);
                input.ReadExactly(payload.AsSpan(0, payloadBytes));
            }
            return (payload, reserved);
        }
        catch
        {
            Finish(payload, reserved);
            throw;
        }
    }

    private void Refuse(in NbdRequestHeader request, NbdError error, byte[]? payload, long reserved)
    {
        NbdLog.RequestFailed(logger, connectionId, request.Command, request.Offset, request.Length, error, null);
        try
        {
            replies.SendError(request.Handle, error, $"{request.Command} refused: {error}");
        }
        finally
        {
            Finish(payload, reserved);
        }
    }

    private void Start(in NbdRequestHeader request, byte[]? payload, long reserved)
    {
        if (_offloadCountdown > 0 || request.Command == NbdCommand.Flush || request.Flags.HasFlag(NbdCommandFlags.Fua))
        {
            _offloadCountdown = Math.Max(0, _offloadCountdown - 1);
            var offloaded = request;
            blockingWorkers.Run(() => _ = HandleAsync(offloaded, payload, reserved));
            return;
        }
        var started = Stopwatch.GetTimestamp();
        _ = HandleAsync(request, payload, reserved);
        if (Stopwatch.GetElapsedTime(started) > SlowInlineHandler)
        {
            _offloadCountdown = OffloadedRequests;
        }
    }

    private async Task HandleAsync(NbdRequestHeader request, byte[]? payload, long reserved)
    {
        byte[]? readBuffer = null;
        try
        {
            NbdError error;
            string message;
            try
            {
                readBuffer = await ExecuteAsync(request, payload);
                error = NbdError.None;
                message = "";
            }
            catch (Exception e)
            {
                error = NbdErrors.FromException(e);
                message = e.Message;
                NbdLog.RequestFailed(logger, connectionId, request.Command, request.Offset, request.Length, error, e);
            }
            if (error != NbdError.None)
            {
                replies.SendError(request.Handle, error, message);
            }
            else if (readBuffer is not null)
            {
                replies.SendRead(request.Handle, request.Offset, readBuffer, (int)request.Length);
            }
            else
            {
                replies.SendSuccess(request.Handle);
            }
        }
        catch (Exception)
        {
            // The reply could not be sent: the client is gone or stopped reading.
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
    private async ValueTask<byte[]?> ExecuteAsync(NbdRequestHeader request, byte[]? payload)
    {
        var device = session.Device;
        var offset = (long)request.Offset;
        // TRIM and WRITE_ZEROES may span up to 4 GiB - 1 bytes; READ and WRITE were held to the
        // payload limit by validation, so only they narrow to int.
        long length = request.Length;
        var fua = request.Flags.HasFlag(NbdCommandFlags.Fua);
        switch (request.Command)
        {
            case NbdCommand.Read:
                var buffer = ArrayPool<byte>.Shared.Rent(NbdReplyWriter.ReadPrefix + (int)length);
                try
                {
                    await device.ReadAsync(offset, buffer.AsMemory(NbdReplyWriter.ReadPrefix, (int)length));
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw;
                }
                return buffer;
            case NbdCommand.Write:
                await device.WriteAsync(offset, payload.AsMemory(0, (int)length), fua);
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

    private void Finish(byte[]? payload, long reserved)
    {
        if (payload is not null)
        {
            ArrayPool<byte>.Shared.Return(payload);
        }
        _budget.Release(reserved);
    }
}
