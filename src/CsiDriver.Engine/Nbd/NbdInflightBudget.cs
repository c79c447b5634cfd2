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
    private long _waits;

    /// <summary>How many times a caller of <see cref="Acquire"/> or <see cref="Drain"/> began to
    /// wait (again, after each wake-up that found too little released): the event that shows the
    /// connection stalled on the budget.</summary>
    public long Waits
    {
        get
        {
            lock (_lock)
            {
                return _waits;
            }
        }
    }

    public void Acquire(long bytes)
    {
        lock (_lock)
        {
            while (!(_requests == 0 || (_requests < maxRequests && _bytes + bytes <= maxBytes)))
            {
                Wait();
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
                Wait();
            }
        }
    }

    private void Wait()
    {
        _waits++;
        Monitor.Wait(_lock);
    }
}
