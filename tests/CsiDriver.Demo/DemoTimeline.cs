namespace CsiDriver.Demo;

/// <summary>One second of the demo as the sampler saw it.</summary>
/// <param name="Seconds">Since the demo started.</param>
/// <param name="Run">"group" or "per-volume".</param>
/// <param name="LatencyMs">Mean order latency over the second (null: not measured).</param>
/// <param name="LagSeconds">Replication lag (null: not replicating).</param>
/// <param name="JournalBytes">Journal bytes the main site holds for the backup (null: unknown).</param>
public sealed record Sample(double Seconds, string Run, string Phase, long Committed, double OrdersPerSecond, double? LatencyMs, double? LagSeconds, double? JournalBytes);

/// <summary>Something that happened, for the live view and the report.</summary>
public sealed record DemoEvent(double Seconds, string Text);

/// <summary>
/// What the demo saw over time, shared by the phases (writers), the sampler, the live view and
/// the report (readers): the current run and phase, samples, events. Thread-safe.
/// </summary>
public sealed class DemoTimeline
{
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private readonly List<Sample> _samples = [];
    private readonly List<DemoEvent> _events = [];
    private readonly Lock _lock = new();
    private string _run = "group";
    private string _phase = "set-up";

    public event Action<DemoEvent>? EventAdded;

    public double Now => _clock.Elapsed.TotalSeconds;

    public (string Run, string Phase) Position
    {
        get
        {
            lock (_lock)
            {
                return (_run, _phase);
            }
        }
    }

    public IReadOnlyList<Sample> Samples
    {
        get
        {
            lock (_lock)
            {
                return _samples.ToList();
            }
        }
    }

    public IReadOnlyList<DemoEvent> Events
    {
        get
        {
            lock (_lock)
            {
                return _events.ToList();
            }
        }
    }

    public void Enter(string run, string phase)
    {
        lock (_lock)
        {
            (_run, _phase) = (run, phase);
        }
        Note($"[{run}] {phase}");
    }

    public void Note(string text)
    {
        var added = new DemoEvent(Now, text);
        lock (_lock)
        {
            _events.Add(added);
        }
        EventAdded?.Invoke(added);
    }

    public void Add(Sample sample)
    {
        lock (_lock)
        {
            _samples.Add(sample);
        }
    }

    /// <summary>Samples of one run and phase.</summary>
    public IReadOnlyList<Sample> Of(string run, string phase) =>
        Samples.Where(s => s.Run == run && s.Phase == phase).ToList();
}
