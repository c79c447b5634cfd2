namespace CsiDriver.Demo.Shop;

/// <summary>
/// The business process the demo protects: orders written to the sales volume and then the
/// stock volume of the main site, one order at a time, paced to a rate.
/// </summary>
public interface IBusinessProcess : IAsyncDisposable
{
    /// <summary>What it writes through ("SQLite on mounted ext4", "raw block records over NBD").</summary>
    string Kind { get; }

    /// <summary>Newest order whose both halves were acknowledged.</summary>
    long Committed { get; }

    /// <summary>Sum of order latencies in microseconds and their count, for windowed means;
    /// zero count when the variant does not measure them.</summary>
    (long Micros, long Count) Latency { get; }

    /// <summary>Writes orders until <paramref name="stop"/> fires or a write fails; a failure
    /// ends the run and is returned (null: stopped as asked). A stop lands between orders.</summary>
    Task<Exception?> RunAsync(int ordersPerSecond, CancellationToken stop);
}
