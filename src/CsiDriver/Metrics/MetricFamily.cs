namespace CsiDriver.Metrics;

/// <summary>The two metric types the driver exposes. A gauge goes up and down; a counter only
/// grows while the process lives (a scraper derives rates from it).</summary>
public enum MetricType
{
    Gauge,
    Counter,
}

/// <summary>One sample of a family: its labels (name → value) and its value.</summary>
public sealed record MetricSample(IReadOnlyList<KeyValuePair<string, string>> Labels, double Value)
{
    public static MetricSample Of(double value, params (string Name, string Value)[] labels) =>
        new(labels.Select(l => KeyValuePair.Create(l.Name, l.Value)).ToArray(), value);
}

/// <summary>A metric name with its help text, type and samples, written as one block of the
/// Prometheus text exposition format by <see cref="PrometheusText"/>.</summary>
public sealed record MetricFamily(string Name, string Help, MetricType Type, IReadOnlyList<MetricSample> Samples);
