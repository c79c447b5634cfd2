namespace CsiDriver.Benchmarks;

/// <summary>Order statistics the replication benchmarks report.</summary>
public static class BenchmarkStatistics
{
    public static double Median(IEnumerable<double> values) => Percentile(values, 0.5);

    /// <summary>The nearest-rank percentile: the smallest value with at least that fraction of
    /// the values at or below it.</summary>
    public static double Percentile(IEnumerable<double> values, double fraction)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            throw new InvalidOperationException("no values to take a percentile of");
        }
        return sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}
