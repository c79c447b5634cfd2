using System.Diagnostics;

namespace CsiDriver.Replication;

/// <summary>Bytes per second over roughly the last few seconds, from a running total.</summary>
public sealed class ThroughputMeter
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(5);
    private readonly Lock _lock = new();
    private readonly Queue<(long Ticks, long Total)> _samples = new();
    private long _total;

    public long TotalBytes => Interlocked.Read(ref _total);

    public void Add(long bytes)
    {
        lock (_lock)
        {
            _total += bytes;
            var now = Stopwatch.GetTimestamp();
            _samples.Enqueue((now, _total));
            Trim(now);
        }
    }

    public double BytesPerSecond
    {
        get
        {
            lock (_lock)
            {
                var now = Stopwatch.GetTimestamp();
                Trim(now);
                if (_samples.Count == 0)
                {
                    return 0;
                }
                var (ticks, total) = _samples.Peek();
                var seconds = Math.Max(Stopwatch.GetElapsedTime(ticks, now).TotalSeconds, 1.0);
                return (_total - total) / seconds;
            }
        }
    }

    private void Trim(long now)
    {
        while (_samples.TryPeek(out var oldest) && Stopwatch.GetElapsedTime(oldest.Ticks, now) > Window)
        {
            _samples.Dequeue();
        }
    }
}
