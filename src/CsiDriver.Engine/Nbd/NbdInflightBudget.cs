namespace CsiDriver.Engine.Nbd;

/// <summary>
/// Bounds what one connection holds at once: a number of requests and a number of payload bytes.
/// Only the connection's request loop acquires (one waiter at most); handlers release from any
/// thread. A request bigger than the whole byte budget is admitted when nothing else is in flight.
/// </summary>
internal sealed class NbdInflightBudget(int maxRequests, long maxBytes)
{
    private readonly Lock _lock = new();
    private int _requests;
    private long _bytes;
    private long _wantedBytes;
    private bool _waitingForDrain;
    private TaskCompletionSource? _waiter;

    public ValueTask AcquireAsync(long bytes)
    {
        lock (_lock)
        {
            if (Fits(bytes))
            {
                Take(bytes);
                return ValueTask.CompletedTask;
            }
            _wantedBytes = bytes;
            _waitingForDrain = false;
            _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return new ValueTask(_waiter.Task);
        }
    }

    public void Release(long bytes)
    {
        TaskCompletionSource? wake = null;
        lock (_lock)
        {
            _requests--;
            _bytes -= bytes;
            if (_waiter is not null && (_waitingForDrain ? _requests == 0 : Fits(_wantedBytes)))
            {
                if (!_waitingForDrain)
                {
                    Take(_wantedBytes);
                }
                wake = _waiter;
                _waiter = null;
            }
        }
        wake?.SetResult();
    }

    /// <summary>Completes once every acquired request has been released.</summary>
    public ValueTask DrainAsync()
    {
        lock (_lock)
        {
            if (_requests == 0)
            {
                return ValueTask.CompletedTask;
            }
            _waitingForDrain = true;
            _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return new ValueTask(_waiter.Task);
        }
    }

    private bool Fits(long bytes) =>
        _requests == 0 || (_requests < maxRequests && _bytes + bytes <= maxBytes);

    private void Take(long bytes)
    {
        _requests++;
        _bytes += bytes;
    }
}
