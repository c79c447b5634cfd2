using System.Diagnostics;

namespace CsiDriver.TestSupport;

/// <summary>
/// Paces a workload at one step per interval at most. A step that ran late is not made up for
/// by a burst: the next one is due an interval after the later of its due time and now, so the
/// load stays steady. A zero interval runs flat out.
/// </summary>
public sealed class SteadyPace(TimeSpan interval)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _due;

    /// <summary>Time since the pace started.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>How long until the next step is due; zero when it is due now. The clock is read
    /// once: comparing and then subtracting two readings can give a negative wait.</summary>
    public TimeSpan UntilDue
    {
        get
        {
            var early = _due - _clock.Elapsed;
            return early > TimeSpan.Zero ? early : TimeSpan.Zero;
        }
    }

    /// <summary>Marks a step as taken now.</summary>
    public void Step() => _due = TimeSpan.FromTicks(Math.Max((_due + interval).Ticks, _clock.Elapsed.Ticks));
}
