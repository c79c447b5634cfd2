using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CsiDriver.Engine.Nbd;

/// <summary>
/// Serves the exports of a catalog over NBD (fixed newstyle handshake) on unix sockets and
/// loopback TCP. Every connection runs on its own; a broken or hostile one affects no other.
/// </summary>
public sealed class NbdServer : IAsyncDisposable
{
    private readonly NbdServerOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<(NbdEndpoint Endpoint, Socket Listener)> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly ConcurrentDictionary<long, NbdConnection> _connections = new();
    private readonly NbdBlockingWorkers _blockingWorkers;
    private long _nextConnectionId;
    private int _state; // 0 new, 1 started, 2 stopped

    public NbdServer(NbdServerOptions options)
    {
        options.Validate();
        _options = options;
        _blockingWorkers = new NbdBlockingWorkers(options.MaxBlockingThreads);
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<NbdServer>();
    }

    public int ConnectionCount => _connections.Count;

    /// <summary>The endpoints actually bound (a TCP port of 0 resolved to the one the system chose).</summary>
    public IReadOnlyList<NbdEndpoint> BoundEndpoints => _listeners
        .Select(l => l.Endpoint.Tcp is null ? l.Endpoint : NbdEndpoint.Loopback((System.Net.IPEndPoint)l.Listener.LocalEndPoint!))
        .ToList();

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("the NBD server was already started");
        }
        try
        {
            foreach (var endpoint in _options.Endpoints)
            {
                cancellationToken.ThrowIfCancellationRequested();
                _listeners.Add((endpoint, Listen(endpoint)));
                NbdLog.Listening(_logger, endpoint);
            }
        }
        catch
        {
            CloseListeners();
            throw;
        }
        foreach (var (endpoint, listener) in _listeners)
        {
            _acceptLoops.Add(AcceptLoopAsync(endpoint, listener));
        }
        return Task.CompletedTask;
    }

    /// <summary>Stops accepting, lets every connection finish its requests in flight, closes them
    /// and removes the unix sockets.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _state, 2) != 1)
        {
            return;
        }
        await _stopping.CancelAsync();
        CloseListeners();
        await Task.WhenAll(_acceptLoops).WaitAsync(cancellationToken);
        var open = _connections.Values.ToList();
        foreach (var connection in open)
        {
            connection.Stop();
        }
        await Task.WhenAll(open.Select(c => c.Completion)).WaitAsync(cancellationToken);
        _blockingWorkers.Dispose();
        NbdLog.Stopped(_logger);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stopping.Dispose();
    }

    private static Socket Listen(NbdEndpoint endpoint)
    {
        if (endpoint.UnixSocketPath is { } path)
        {
            RemoveStaleSocket(path);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        }
        var socket = endpoint.CreateSocket();
        try
        {
            socket.Bind(endpoint.ToEndPoint());
            socket.Listen(128);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A socket file left by a previous process that nobody answers on is removed; one that
    /// answers belongs to a live server and is left alone.</summary>
    private static void RemoveStaleSocket(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }
        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new IOException($"another server is listening on {path}");
            }
            catch (SocketException)
            {
                // Nobody listens: stale.
            }
        }
        File.Delete(path);
    }

    private async Task AcceptLoopAsync(NbdEndpoint endpoint, Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                NbdLog.AcceptFailed(_logger, endpoint, e);
                continue;
            }
            var open = _connections.Count;
            if (open >= _options.MaxConnections)
            {
                NbdLog.TooManyConnections(_logger, endpoint, open);
                client.Dispose();
                continue;
            }
            if (endpoint.Tcp is not null)
            {
                client.NoDelay = true;
            }
            var connection = new NbdConnection(
                Interlocked.Increment(ref _nextConnectionId), client, _options, _blockingWorkers, _logger, c => _connections.TryRemove(c.Id, out _));
            _connections[connection.Id] = connection;
            connection.Start();
        }
    }

    private void CloseListeners()
    {
        foreach (var (endpoint, listener) in _listeners)
        {
            listener.Dispose();
            if (endpoint.UnixSocketPath is { } path)
            {
                File.Delete(path);
            }
        }
    }
}
