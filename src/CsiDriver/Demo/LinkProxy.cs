using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace CsiDriver.Demo;

/// <summary>
/// A TCP relay on loopback between the sites that makes the link a wide-area one: every chunk
/// read in either direction is released after the delay plus a random jitter, never before the
/// chunk ahead of it (order within a connection is kept). Each connection has its own extra
/// delay within 0..jitter, wandering slowly; successive connections alternate between the upper
/// and the lower quarter of that range, so two connections — per-volume mode's one link per
/// volume — surely lag differently, as two independent network paths do. TLS passes through
/// untouched.
/// </summary>
public sealed class LinkProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly TimeSpan _delay;
    private readonly TimeSpan _jitter;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly List<Task> _connections = [];
    private int _accepted;

    public LinkProxy(IPEndPoint target, TimeSpan delay, TimeSpan jitter)
    {
        _target = target;
        _delay = delay;
        _jitter = jitter;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public string Address => SiteSettings.Loopback(((IPEndPoint)_listener.LocalEndpoint).Port);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }
        await Task.WhenAll(connections);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient inbound;
            try
            {
                inbound = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            lock (_connections)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(RelayAsync(inbound));
            }
        }
    }

    private async Task RelayAsync(TcpClient inbound)
    {
        using var _ = inbound;
        using var outbound = new TcpClient { NoDelay = true };
        inbound.NoDelay = true;
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        try
        {
            await outbound.ConnectAsync(_target, connection.Token);
            var high = Interlocked.Increment(ref _accepted) % 2 == 1;
            var jitterMs = _jitter.TotalMilliseconds * ((high ? 0.75 : 0) + 0.25 * Random.Shared.NextDouble());
            await Task.WhenAny(
                PumpAsync(inbound.GetStream(), outbound.GetStream(), jitterMs, connection.Token),
                PumpAsync(outbound.GetStream(), inbound.GetStream(), jitterMs, connection.Token));
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException)
        {
            // A closed or refused connection ends the relay; the site link reconnects.
        }
        await connection.CancelAsync();
    }

    /// <summary>Reads chunks as they come and releases each after the link's delay. The
    /// connection's jitter drifts slowly (a small random walk), so its lag wanders as a congested
    /// path's does rather than flickering per packet.</summary>
    private async Task PumpAsync(NetworkStream from, NetworkStream to, double jitterMs, CancellationToken cancellationToken)
    {
        var queue = Channel.CreateUnbounded<(DateTime Due, byte[] Data)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var random = new Random();
        var writer = Task.Run(async () =>
        {
            await foreach (var (due, data) in queue.Reader.ReadAllAsync(cancellationToken))
            {
                var wait = due - DateTime.UtcNow;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken);
                }
                await to.WriteAsync(data, cancellationToken);
            }
        }, cancellationToken);
        var buffer = new byte[64 * 1024];
        var last = DateTime.MinValue;
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, cancellationToken)) > 0)
            {
                jitterMs = Math.Clamp(jitterMs + (random.NextDouble() - 0.5) * _jitter.TotalMilliseconds * 0.05, 0, _jitter.TotalMilliseconds);
                var due = DateTime.UtcNow + _delay + TimeSpan.FromMilliseconds(jitterMs);
                last = due > last ? due : last;
                queue.Writer.TryWrite((last, buffer[..read]));
            }
        }
        finally
        {
            queue.Writer.TryComplete();
            await writer.ContinueWith(_ => { }, TaskScheduler.Default);
        }
        to.Socket.Shutdown(SocketShutdown.Send);
    }
}
