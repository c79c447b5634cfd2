using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>
/// A TCP proxy on 127.0.0.1 standing in for the WAN between two sites: every connection made to
/// <see cref="Address"/> is forwarded to the target, bytes both ways, with faults a test can
/// inject while traffic flows: a one-way delay plus random jitter per chunk (a later chunk is
/// never delivered before an earlier one, so the byte stream stays intact), a throughput limit,
/// <see cref="Disconnect"/> (live connections are reset) and <see cref="Down"/>/<see cref="Up"/>
/// (while down, new connections are reset as soon as they are accepted). Memory is bounded: a
/// direction holds at most <see cref="MaxBytesQueued"/> (plus one chunk of at most
/// <see cref="ChunkBytes"/>); beyond that the proxy stops reading and TCP flow control pushes
/// back on the sender. The bound is in bytes, not chunks, so the data a delay holds (rate ×
/// delay: 3 MB at 1 Gbit/s and 25 ms) fits whatever sizes the reads return. The proxy runs in
/// the process that starts it and copies every byte through it once (read into a pooled chunk,
/// sent from it): in a benchmark its CPU is the starting process's.
/// </summary>
public sealed class FaultyLink : IAsyncDisposable
{
    public const int ChunkBytes = 256 * 1024;
    public const int MaxBytesQueued = 16 << 20;
    private const int MaxConnections = 64;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<long, LinkConnection> _live = new();
    private readonly Task _accepting;
    private long _delayTicks;
    private long _jitterTicks;
    private long _bytesPerSecond;
    private long _accepted;
    private long _refused;
    private long _nextId;
    private long _closedBytes;
    private volatile bool _down;

    private FaultyLink(IPEndPoint target)
    {
        _target = target;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start(backlog: MaxConnections);
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Starts forwarding from a free loopback port to <paramref name="target"/>.</summary>
    public static FaultyLink Start(IPEndPoint target) => new(target);

    public static FaultyLink Start(string targetHostPort) => new(IPEndPoint.Parse(targetHostPort));

    public int Port { get; }

    /// <summary>host:port to give the sending side instead of the target's address.</summary>
    public string Address => $"127.0.0.1:{Port}";

    /// <summary>Added to every chunk in each direction.</summary>
    public TimeSpan Delay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _delayTicks));
        set => Interlocked.Exchange(ref _delayTicks, Math.Max(0, value.Ticks));
    }

    /// <summary>A uniform random extra delay in [0, Jitter) per chunk.</summary>
    public TimeSpan Jitter
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _jitterTicks));
        set => Interlocked.Exchange(ref _jitterTicks, Math.Max(0, value.Ticks));
    }

    /// <summary>Per direction and connection; 0 means unlimited.</summary>
    public long BytesPerSecond
    {
        get => Interlocked.Read(ref _bytesPerSecond);
        set => Interlocked.Exchange(ref _bytesPerSecond, Math.Max(0, value));
    }

    public bool IsDown => _down;

    public int LiveConnections => _live.Count;

    public long ConnectionsAccepted => Interlocked.Read(ref _accepted);

    /// <summary>Connections reset on arrival because the link was down.</summary>
    public long ConnectionsRefused => Interlocked.Read(ref _refused);

    /// <summary>Bytes delivered to either end so far.</summary>
    public long BytesForwarded => _live.Values.Sum(c => c.BytesForwarded) + Interlocked.Read(ref _closedBytes);

    /// <summary>Resets every live connection (both ends see a reset); new ones are still accepted.</summary>
    public void Disconnect()
    {
        foreach (var connection in _live.Values)
        {
            connection.Abort();
        }
    }

    /// <summary>Cuts the link: live connections are reset and new ones refused until <see cref="Up"/>.</summary>
    public void Down()
    {
        _down = true;
        Disconnect();
    }

    public void Up() => _down = false;

    /// <summary>The chunk's delivery time: now + delay + jitter, but never before the previous
    /// chunk of the same direction (<paramref name="previousDue"/>), so order is kept.</summary>
    internal long DueTimestamp(long previousDue)
    {
        var jitter = Interlocked.Read(ref _jitterTicks);
        var extra = Interlocked.Read(ref _delayTicks) + (jitter > 0 ? Random.Shared.NextInt64(jitter) : 0);
        var due = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(extra * (System.Diagnostics.Stopwatch.Frequency / (double)TimeSpan.TicksPerSecond));
        return Math.Max(due, previousDue);
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        await _stop.CancelAsync();
        _listener.Stop();
        Disconnect();
        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await Task.WhenAll(_live.Values.Select(c => c.Completion)).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            if (_down || _live.Count >= MaxConnections)
            {
                Interlocked.Increment(ref _refused);
                LinkConnection.Reset(client);
                continue;
            }
            Interlocked.Increment(ref _accepted);
            _ = Task.Run(() => ForwardAsync(client));
        }
    }

    private async Task ForwardAsync(Socket client)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(ConnectTimeout);
            await server.ConnectAsync(_target, timeout.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException)
        {
            // The target is not listening (a site being restarted): the caller sees a reset,
            // as it would from the target itself.
            LinkConnection.Reset(client);
            server.Dispose();
            return;
        }
        var id = Interlocked.Increment(ref _nextId);
        var connection = new LinkConnection(this, client, server);
        _live[id] = connection;
        if (_down || _stop.IsCancellationRequested)
        {
            connection.Abort();
        }
        try
        {
            await connection.Completion;
        }
        finally
        {
            _live.TryRemove(id, out _);
            Interlocked.Add(ref _closedBytes, connection.BytesForwarded);
        }
    }
}
