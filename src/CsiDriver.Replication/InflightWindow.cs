namespace CsiDriver.Replication;

/// <summary>
/// Flow control of one link: bytes sent and not yet acknowledged are bounded, so a slow backup
/// slows the shipper (which only reads the journal) and never the writers. One message always
/// fits, however large, when nothing is in flight.
/// </summary>
public sealed class InflightWindow(long maxBytes)
{
    private readonly Lock _lock = new();
    private readonly Queue<InflightMessage> _inflight = new();
    private long _bytes;
    private TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long InflightBytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    /// <summary>Waits until <paramref name="bytes"/> more fit, then counts message
    /// <paramref name="message"/> as in flight.</summary>
    public async Task AcquireAsync(long message, long bytes, bool isBatch, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task released;
            lock (_lock)
            {
                if (_inflight.Count == 0 || _bytes + bytes <= maxBytes)
                {
                    _inflight.Enqueue(new InflightMessage(message, bytes, isBatch, System.Diagnostics.Stopwatch.GetTimestamp()));
                    _bytes += bytes;
                    return;
                }
                released = _released.Task;
            }
            await released.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Messages up to <paramref name="throughMessage"/> were durably handled by the
    /// receiver; returns them, oldest first.</summary>
    public IReadOnlyList<InflightMessage> Release(long throughMessage)
    {
        TaskCompletionSource released;
        var done = new List<InflightMessage>();
        lock (_lock)
        {
            while (_inflight.TryPeek(out var head) && head.Message <= throughMessage)
            {
                done.Add(_inflight.Dequeue());
                _bytes -= head.Bytes;
            }
            released = _released;
            _released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        released.TrySetResult();
        return done;
    }
}

/// <param name="SentTimestamp">Stopwatch timestamp of the send.</param>
public sealed record InflightMessage(long Message, long Bytes, bool IsBatch, long SentTimestamp);
