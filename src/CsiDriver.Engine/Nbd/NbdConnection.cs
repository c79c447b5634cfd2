using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Engine.Nbd;

/// <summary>
/// One client connection: the handshake (bounded in time), then transmission. Whatever goes
/// wrong here — a hostile peer, a hang-up mid-message — ends this connection only.
/// </summary>
internal sealed class NbdConnection(long id, Socket socket, NbdServerOptions options, ILogger logger)
{
    public long Id => id;

    public async Task RunAsync(CancellationToken stopping)
    {
        NbdLog.ConnectionOpened(logger, id);
        long requests = 0;
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            var input = new NbdReceiveBuffer(stream);
            var session = await HandshakeAsync(input, stream, stopping);
            if (session is null)
            {
                return;
            }
            NbdLog.ExportAttached(logger, id, session.ExportName, session.Size, session.Flags);
            var transmission = new NbdTransmission(
                id, session, input, new NbdReplyWriter(stream, session.StructuredReplies), options, logger, Abort);
            await transmission.RunAsync(stopping);
            requests = transmission.RequestCount;
        }
        catch (Exception e) when (NbdErrors.IsDisconnect(e))
        {
            NbdLog.ClientHungUp(logger, id);
        }
        finally
        {
            NbdLog.ConnectionClosed(logger, id, requests);
        }
    }

    /// <summary>Breaks the connection from outside the request loop (a reply could not be sent);
    /// the loop then fails its next read and winds down.</summary>
    public void Abort()
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
    }

    private async Task<NbdSession?> HandshakeAsync(NbdReceiveBuffer input, NetworkStream stream, CancellationToken stopping)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(options.HandshakeTimeout);
        var handshake = new NbdHandshake(input, stream, options);
        try
        {
            var session = await handshake.RunAsync(deadline.Token);
            if (handshake.Violation is { } violation)
            {
                NbdLog.ProtocolViolation(logger, id, violation);
            }
            return session;
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            NbdLog.ProtocolViolation(logger, id, $"no export chosen within {options.HandshakeTimeout}");
            return null;
        }
    }
}
