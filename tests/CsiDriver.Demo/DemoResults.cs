namespace CsiDriver.Demo;

public enum Outcome
{
    Pass,
    Fail,
    /// <summary>A figure outside what the demo expects where the machine, not the driver, may be
    /// the cause (a timing on a shared, loaded machine): shown, but not a failure.</summary>
    Warn,
    Skipped,
}

/// <summary>One checked step of the story and what it showed.</summary>
public sealed record StepResult(string Run, string Step, Outcome Outcome, string Detail);

/// <summary>
/// The verdicts of the demo's steps and the figures the summary reports. PASS needs every step
/// to pass, warn or be skipped for a stated reason; one failure is FAIL.
/// </summary>
public sealed class DemoResults
{
    private readonly List<StepResult> _steps = [];
    private readonly Dictionary<string, string> _figures = new(StringComparer.Ordinal);
    private readonly List<string> _figureOrder = [];
    private readonly Lock _lock = new();

    public IReadOnlyList<StepResult> Steps
    {
        get
        {
            lock (_lock)
            {
                return _steps.ToList();
            }
        }
    }

    /// <summary>Headline figures (name → value) in the order first set.</summary>
    public IReadOnlyList<(string Name, string Value)> Figures
    {
        get
        {
            lock (_lock)
            {
                return _figureOrder.Select(n => (n, _figures[n])).ToList();
            }
        }
    }

    /// <summary>Per-item analytics found at the backup, for the report.</summary>
    public IReadOnlyList<Shop.ItemFigures> Analytics { get; set; } = [];

    /// <summary>How to reach the sites left running with --keep.</summary>
    public IReadOnlyList<string> KeptCommands { get; set; } = [];

    public bool Passed => Steps.All(s => s.Outcome != Outcome.Fail);

    public StepResult Record(string run, string step, Outcome outcome, string detail)
    {
        var result = new StepResult(run, step, outcome, detail);
        lock (_lock)
        {
            _steps.Add(result);
        }
        return result;
    }

    public void Figure(string name, string value)
    {
        lock (_lock)
        {
            if (!_figures.ContainsKey(name))
            {
                _figureOrder.Add(name);
            }
            _figures[name] = value;
        }
    }
}

/// <summary>A step of the demo could not go on; the message says why.</summary>
public sealed class DemoException(string message) : Exception(message);
