using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace CsiDriver.Demo;

/// <summary>
/// A TCP relay on loopback between the sites that makes the link a wide-area one. Every chunk
/// is released after the link's delay, never before the chunk ahead of it (order within a
/// connection is kept). Towards the backup, each connection's delay also swings, as on a
/// congested path: for one half of every <see cref="SwingPeriod"/> it is the jitter longer, for
/// the other half not, and successive connections swing in opposite halves. One link (group
/// mode) then lags between the delay and delay + jitter; two links (per-volume mode's, one per
/// volume) lag differently by the jitter most of the time, as two independent paths can. TLS
/// passes through untouched.
/// </summary>
public sealed class LinkProxy : IAsyncDisposable
{
    public static readonly TimeSpan SwingPeriod = TimeSpan.FromSeconds(2);

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly TimeSpan _delay;
    private readonly TimeSpan _jitter;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly List<Task> _connections = [];
    private int _accepted;
    private int _disposed;

    public LinkProxy(IPEndPoint target, TimeSpan delay, TimeSpan jitter)
    {
        _target = target;
        _delay = delay;
        _jitter = jitter;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public string Address => SiteSettings.Loopback(((IPEndPoint)_listener.LocalEndpoint).Port);

    /// <summary>Cuts the link as a lost site's network goes: every connection closes and what
    /// was still in flight is dropped. The same as disposing; a second call does nothing.</summary>
    public ValueTask SeverAsync() => DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
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
            var phase = Interlocked.Increment(ref _accepted) % 2 == 0 ? 0.5 : 0.0;
            lock (_connections)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(RelayAsync(inbound, phase));
            }
        }
    }

    private async Task RelayAsync(TcpClient inbound, double phase)
    {
        using var _ = inbound;
        using var outbound = new TcpClient { NoDelay = true };
        inbound.NoDelay = true;
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        try
        {
            await outbound.ConnectAsync(_target, connection.Token);
            await Task.WhenAny(
                PumpAsync(inbound.GetStream(), outbound.GetStream(), () => _delay + Swing(phase), connection.Token),
                PumpAsync(outbound.GetStream(), inbound.GetStream(), () => _delay, connection.Token));
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException)
        {
            // A closed or refused connection ends the relay; the site link reconnects.
        }
        await connection.CancelAsync();
    }

    /// <summary>The extra delay of a connection of the given phase now: the jitter in one half of
    /// the swing period, nothing in the other.</summary>
    private TimeSpan Swing(double phase) =>
        (_clock.Elapsed / SwingPeriod + phase) % 1 < 0.5 ? _jitter : TimeSpan.Zero;

    /// <summary>Reads chunks as they come and releases each once its delay has passed and the
    /// chunk ahead of it is out.</summary>
    private static async Task PumpAsync(NetworkStream from, NetworkStream to, Func<TimeSpan> delay, CancellationToken cancellationToken)
    {
        var queue = Channel.CreateUnbounded<(DateTime Due, byte[] Data)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
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
                var due = DateTime.UtcNow + delay();
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
