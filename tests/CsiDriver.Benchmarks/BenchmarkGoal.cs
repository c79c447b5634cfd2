using System.Globalization;

namespace CsiDriver.Benchmarks;

/// <summary>What a figure must reach: a bound it must be at or above, above, at or below, or
/// below. <see cref="IsMet"/> gives the verdict the summary prints and `make bench` exits on.</summary>
public sealed record BenchmarkGoal(BenchmarkGoal.Bound Kind, double Threshold)
{
    public enum Bound
    {
        AtLeast,
        Above,
        AtMost,
        Below,
    }

    public static BenchmarkGoal AtLeast(double threshold) => new(Bound.AtLeast, threshold);

    public static BenchmarkGoal Above(double threshold) => new(Bound.Above, threshold);

    public static BenchmarkGoal AtMost(double threshold) => new(Bound.AtMost, threshold);

    public static BenchmarkGoal Below(double threshold) => new(Bound.Below, threshold);

    /// <summary>A figure that is not a number (a failed measurement) meets no goal.</summary>
    public bool IsMet(double value) => Kind switch
    {
        Bound.AtLeast => value >= Threshold,
        Bound.Above => value > Threshold,
        Bound.AtMost => value <= Threshold,
        Bound.Below => value < Threshold,
        _ => throw new InvalidOperationException($"unknown bound {Kind}"),
    };

    public override string ToString()
    {
        var symbol = Kind switch
        {
            Bound.AtLeast => "≥",
            Bound.Above => ">",
            Bound.AtMost => "≤",
            Bound.Below => "<",
            _ => "?",
        };
        return string.Create(CultureInfo.InvariantCulture, $"{symbol} {Threshold:0.###}");
    }
}
