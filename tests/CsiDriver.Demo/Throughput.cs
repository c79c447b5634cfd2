using System.Diagnostics;
using CsiDriver.Demo.Shop;

namespace CsiDriver.Demo;

/// <summary>Orders, orders per second and mean latency of the business process over a phase.</summary>
public sealed record Throughput(long Orders, double Rate, double? MeanLatencyMs)
{
    public string RateText => Orders == 0 ? "none" : $"{Rate:F1}";

    /// <summary>Starts measuring from the business process's counters as they are now.</summary>
    public static Meter Start(IBusinessProcess business) => new(business, business.Committed, business.Latency, Stopwatch.StartNew());

    public override string ToString() =>
        $"{Orders} orders, {RateText} orders/s" + (MeanLatencyMs is { } l ? $", mean latency {l:F1} ms" : "");

    public sealed record Meter(IBusinessProcess Business, long Committed, (long Micros, long Count) Latency, Stopwatch Clock)
    {
        public Throughput Stop()
        {
            var orders = Business.Committed - Committed;
            var (micros, count) = Business.Latency;
            return new Throughput(
                orders,
                orders / Math.Max(0.001, Clock.Elapsed.TotalSeconds),
                count > Latency.Count ? (micros - Latency.Micros) / 1000.0 / (count - Latency.Count) : null);
        }
    }
}
