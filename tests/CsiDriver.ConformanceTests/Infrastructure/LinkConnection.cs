using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using System.Threading.Channels;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>
/// One connection through a <see cref="FaultyLink"/>: two sockets and a pump per direction. A
/// pump reads a chunk, stamps it with its delivery time and queues it (bounded in bytes); a writer sends
/// chunks in queue order once due, paced by the link's throughput limit. The first error or
/// <see cref="Abort"/> resets both sockets; an orderly end of one direction is passed on as a
/// half-close once everything read before it has been delivered.
/// </summary>
internal sealed class LinkConnection
{
    private readonly FaultyLink _link;
    private readonly Socket _client;
    private readonly Socket _server;
    private readonly CancellationTokenSource _abort = new();
    private long _bytesForwarded;
    private int _closed;

    public LinkConnection(FaultyLink link, Socket client, Socket server)
    {
        _link = link;
        _client = client;
        _server = server;
        Completion = RunAsync();
    }

    public Task Completion { get; }

    public long BytesForwarded => Interlocked.Read(ref _bytesForwarded);

    /// <summary>Resets both ends now: what a failed router or a pulled cable looks like to them.</summary>
    public void Abort()
    {
        _abort.Cancel();
        Close();
    }

    /// <summary>Closes a socket with a TCP reset rather than an orderly FIN.</summary>
    public static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed by the other side: nothing left to reset.
        }
        socket.Dispose();
    }

    private async Task RunAsync()
    {
        try
        {
            await Task.WhenAll(PumpAsync(_client, _server), PumpAsync(_server, _client));
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or ChannelClosedException)
        {
            // A reset on either side, or an abort: both ends are reset below.
        }
        finally
        {
            Close();
        }
    }

    private void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            Reset(_client);
            Reset(_server);
        }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var direction = new Direction();
        var delivering = DeliverAsync(direction, to);
        try
        {
            var previousDue = 0L;
            while (true)
            {
                var buffer = ArrayPool<byte>.Shared.Rent(FaultyLink.ChunkBytes);
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _abort.Token);
                if (read == 0)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    break;
                }
                previousDue = _link.DueTimestamp(previousDue);
                Interlocked.Add(ref direction.QueuedBytes, read);
                direction.Queue.Writer.TryWrite(new Chunk(buffer, read, previousDue));
                while (Volatile.Read(ref direction.QueuedBytes) > FaultyLink.MaxBytesQueued)
                {
                    await direction.Room.WaitAsync(_abort.Token);
                }
            }
            direction.Queue.Writer.TryComplete();
        }
        catch (Exception e)
        {
            direction.Queue.Writer.TryComplete(e);
            Abort();
            throw;
        }
        finally
        {
            await delivering;
        }
        to.Shutdown(SocketShutdown.Send);
    }

    private async Task DeliverAsync(Direction direction, Socket to)
    {
        try
        {
            await DeliverInOrderAsync(direction, to);
        }
        catch
        {
            // The reading side may be blocked on a quiet socket: the reset wakes it.
            Abort();
            throw;
        }
    }

    private async Task DeliverInOrderAsync(Direction direction, Socket to)
    {
        var pacedUntil = Stopwatch.GetTimestamp();
        await foreach (var chunk in direction.Queue.Reader.ReadAllAsync(_abort.Token))
        {
            await WaitUntilAsync(chunk.Due);
            var rate = _link.BytesPerSecond;
            if (rate > 0)
            {
                await WaitUntilAsync(pacedUntil);
                pacedUntil = Math.Max(pacedUntil, Stopwatch.GetTimestamp()) + chunk.Length * Stopwatch.Frequency / rate;
            }
            for (var sent = 0; sent < chunk.Length;)
            {
                sent += await to.SendAsync(chunk.Buffer.AsMemory(sent, chunk.Length - sent), SocketFlags.None, _abort.Token);
            }
            ArrayPool<byte>.Shared.Return(chunk.Buffer);
            Interlocked.Add(ref _bytesForwarded, chunk.Length);
            var queued = Interlocked.Add(ref direction.QueuedBytes, -chunk.Length);
            if (queued <= FaultyLink.MaxBytesQueued && queued + chunk.Length > FaultyLink.MaxBytesQueued)
            {
                // The reader may be waiting for room (a release it does not need only makes it look again).
                direction.Room.Release();
            }
        }
    }

    private Task WaitUntilAsync(long timestamp)
    {
        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), timestamp);
        return wait > TimeSpan.Zero ? Task.Delay(wait, _abort.Token) : Task.CompletedTask;
    }

    /// <summary>One direction's queue, read but not yet delivered, and its size in bytes: the
    /// reader stops while it is over <see cref="FaultyLink.MaxBytesQueued"/>.</summary>
    private sealed class Direction
    {
        public readonly Channel<Chunk> Queue = Channel.CreateUnbounded<Chunk>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        public readonly SemaphoreSlim Room = new(0);
        public long QueuedBytes;
    }

    /// <param name="Buffer">Pooled: returned once the chunk is delivered.</param>
    /// <param name="Length">Bytes of <paramref name="Buffer"/> that were read.</param>
    /// <param name="Due">Stopwatch timestamp before which the chunk is not delivered.</param>
    private sealed record Chunk(byte[] Buffer, int Length, long Due);
}
