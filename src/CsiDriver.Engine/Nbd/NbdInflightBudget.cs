namespace CsiDriver.Engine.Nbd;

/// <summary>
/// Bounds what one connection holds at once: a number of requests and a number of payload bytes.
/// The connection's thread blocks in <see cref="Acquire"/> (it stops reading requests) until
/// handlers, on any thread, release enough. A request bigger than the whole byte budget is
/// admitted when nothing else is in flight.
/// </summary>
internal sealed class NbdInflightBudget(int maxRequests, long maxBytes)
{
    private readonly object _lock = new();
    private int _requests;
    private long _bytes;

    public void Acquire(long bytes)
    {
        lock (_lock)
        {
            while (!(_requests == 0 || (_requests < maxRequests && _bytes + bytes <= maxBytes)))
            {
                Monitor.Wait(_lock);
            }
            _requests++;
            _bytes += bytes;
        }
    }

    public void Release(long bytes)
    {
        lock (_lock)
        {
            _requests--;
            _bytes -= bytes;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Whether no request is in flight now.</summary>
    public bool IsEmpty
    {
        get
        {
            lock (_lock)
            {
                return _requests == 0;
            }
        }
    }

    /// <summary>Blocks until every acquired request has been released.</summary>
    public void Drain()
    {
        lock (_lock)
        {
            while (_requests > 0)
            {
                Monitor.Wait(_lock);
            }
        }
    }
}
