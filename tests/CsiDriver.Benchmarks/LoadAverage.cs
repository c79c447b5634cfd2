namespace CsiDriver.Benchmarks;

/// <summary>The machine's load averages, printed beside every figure: a figure taken while other
/// work ran on the same CPUs says more about that work than about ours.</summary>
public static class LoadAverage
{
    /// <summary>"1.02 0.87 0.70": the 1, 5 and 15 minute load averages from /proc/loadavg.</summary>
    public static string Now() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
}
