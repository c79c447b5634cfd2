using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Engine.Nbd;

/// <summary>
/// One client connection, on a thread of its own doing blocking socket calls (as nbdkit does):
/// receiving needs no event-loop wake-up and no thread-pool hop per request. The handshake is
/// bounded in time; then transmission runs. Whatever goes wrong here — a hostile peer, a hang-up
/// mid-message — ends this connection only.
/// </summary>
internal sealed class NbdConnection
{
    // A client that stops reading its replies gets this long before its connection is dropped.
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(60);

    private readonly long _id;
    private readonly Socket _socket;
    private readonly NbdServerOptions _options;
    private readonly NbdBlockingWorkers _blockingWorkers;
    private readonly ILogger _logger;
    private readonly Action<NbdConnection> _closed;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _inTransmission;

    /// <param name="closed">Called on the connection's thread once it is closed, before
    /// <see cref="Completion"/> completes.</param>
    public NbdConnection(
        long id, Socket socket, NbdServerOptions options, NbdBlockingWorkers blockingWorkers, ILogger logger, Action<NbdConnection> closed)
    {
        _id = id;
        _socket = socket;
        _options = options;
        _blockingWorkers = blockingWorkers;
        _logger = logger;
        _closed = closed;
        _socket.SendTimeout = (int)SendTimeout.TotalMilliseconds;
    }

    public long Id => _id;

    /// <summary>Completes when the connection is closed.</summary>
    public Task Completion => _completion.Task;

    public void Start()
    {
        var thread = new Thread(Run) { IsBackground = true, Name = $"nbd-connection-{_id}" };
        thread.Start();
    }

    /// <summary>Stops receiving requests: those in flight are still answered, then the connection closes.</summary>
    public void Stop() => Shutdown(SocketShutdown.Receive);

    /// <summary>Breaks the connection at once (a reply could not be sent, a handshake overran).</summary>
    public void Abort() => Shutdown(SocketShutdown.Both);

    private void Run()
    {
        NbdLog.ConnectionOpened(_logger, _id);
        long requests = 0;
        try
        {
            var input = new NbdReceiveBuffer(_socket);
            var session = Handshake(input);
            if (session is not null)
            {
                NbdLog.ExportAttached(_logger, _id, session.ExportName, session.Size, session.Flags);
                var transmission = new NbdTransmission(
                    _id, session, input, new NbdReplyWriter(_socket, session.StructuredReplies), _options, _blockingWorkers, _logger, Abort);
                transmission.Run();
                requests = transmission.RequestCount;
            }
        }
        catch (Exception e) when (NbdErrors.IsDisconnect(e))
        {
            NbdLog.ClientHungUp(_logger, _id);
        }
        catch (Exception e)
        {
            NbdLog.ConnectionFailed(_logger, _id, e);
        }
        finally
        {
            _socket.Dispose();
            NbdLog.ConnectionClosed(_logger, _id, requests);
            _closed(this);
            _completion.SetResult();
        }
    }

    private NbdSession? Handshake(NbdReceiveBuffer input)
    {
        // The deadline breaks the socket if the client is still haggling when it fires.
        using var deadline = new Timer(
            static state => ((NbdConnection)state!).AbortUnlessTransmitting(), this, _options.HandshakeTimeout, Timeout.InfiniteTimeSpan);
        var handshake = new NbdHandshake(input, _socket, _options);
        var session = handshake.Run();
        _inTransmission = session is not null;
        if (handshake.Violation is { } violation)
        {
            NbdLog.ProtocolViolation(_logger, _id, violation);
        }
        return session;
    }

    private void AbortUnlessTransmitting()
    {
        if (!_inTransmission)
        {
            NbdLog.ProtocolViolation(_logger, _id, $"no export chosen within {_options.HandshakeTimeout}");
            Abort();
        }
    }

    private void Shutdown(SocketShutdown how)
    {
        try
        {
            _socket.Shutdown(how);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
    }
}
