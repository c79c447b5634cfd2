namespace CsiDriver.Rpc.Server;

/// <summary>
/// Cancels a call when its grpc-timeout passes, on the injected clock. Timers cannot wait longer
/// than about 49 days, so a far deadline is reached in steps: each firing re-arms for what remains.
/// </summary>
internal sealed class CallDeadline : IDisposable
{
    private static readonly TimeSpan MaxTimerDelay = TimeSpan.FromDays(20);

    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _call;
    private readonly ITimer _timer;
    private int _expired;

    public CallDeadline(TimeProvider time, TimeSpan timeout, CancellationTokenSource call)
    {
        _time = time;
        _call = call;
        var now = time.GetUtcNow();
        Deadline = timeout >= DateTimeOffset.MaxValue - now ? DateTimeOffset.MaxValue : now + timeout;
        // Armed after the field is set, so a zero timeout firing at once finds the timer in place.
        _timer = time.CreateTimer(OnTimer, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _timer.Change(Clamp(timeout), Timeout.InfiniteTimeSpan);
    }

    public DateTimeOffset Deadline { get; }

    public bool Expired => Volatile.Read(ref _expired) == 1;

    public void Dispose() => _timer.Dispose();

    private void OnTimer(object? state)
    {
        var remaining = Deadline - _time.GetUtcNow();
        if (remaining > TimeSpan.Zero)
        {
            _timer.Change(Clamp(remaining), Timeout.InfiniteTimeSpan);
            return;
        }
        Volatile.Write(ref _expired, 1);
        try
        {
            _call.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The call finished while the timer fired.
        }
    }

    private static TimeSpan Clamp(TimeSpan delay) =>
        delay <= TimeSpan.Zero ? TimeSpan.Zero : delay > MaxTimerDelay ? MaxTimerDelay : delay;
}
