namespace CsiDriver.Benchmarks;

/// <summary>One side-by-side measurement. Each prints its own progress and returns the
/// figures (ratios first) for the summary at the end.</summary>
public interface IBenchmark
{
    /// <summary>Short name used to select it on the command line (`make bench ONLY=name`).</summary>
    string Name { get; }

    Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken);
}

/// <param name="Goal">What the figure is judged against; null: a figure shown for information.</param>
/// <param name="Inconclusive">Why the run cannot judge the figure against its goal (its own
/// noise is larger than the distance to it); null when it can. An inconclusive figure is
/// neither met nor missed.</param>
public sealed record BenchmarkFigure(string Name, double Value, string Unit, BenchmarkGoal? Goal = null, string? Inconclusive = null);

/// <param name="WorkDirectory">A fresh scratch directory for this benchmark.</param>
/// <param name="RepositoryRoot">The directory holding CsiDriver.sln.</param>
public sealed record BenchmarkContext(string WorkDirectory, string RepositoryRoot, TextWriter Progress);
