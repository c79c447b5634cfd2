using System.Globalization;
using Xunit.Abstractions;

namespace CsiDriver.ConformanceTests.Faults;

/// <summary>
/// The figures of one fault-injection probe: how many cases it ran and how many failures it
/// found (each failure named), reported to the test's output and, when
/// <c>FORMATION_FAULT_FIGURES</c> names a file (tests/scripts/run-tests.sh sets it), as one line
/// appended there, so `make test` can print every probe's figures together. A probe runs all
/// its cases, then asserts <see cref="Failures"/> is empty.
/// </summary>
public sealed class FaultFigures(string probe)
{
    private readonly List<string> _failures = [];
    private readonly Dictionary<string, long> _counts = [];

    public string Probe { get; } = probe;

    public long Cases { get; private set; }

    public IReadOnlyList<string> Failures
    {
        get
        {
            lock (_failures)
            {
                return [.. _failures];
            }
        }
    }

    /// <summary>Counts one case; <paramref name="failure"/> non-null records it as a failure.</summary>
    public void Case(string? failure = null)
    {
        lock (_failures)
        {
            Cases++;
            if (failure is not null)
            {
                _failures.Add(failure);
            }
        }
    }

    /// <summary>Adds to a named figure beyond cases and failures (e.g. "writes dropped").</summary>
    public void Count(string figure, long by = 1)
    {
        lock (_failures)
        {
            _counts[figure] = _counts.GetValueOrDefault(figure) + by;
        }
    }

    /// <summary>The value of a named figure (0 if never counted).</summary>
    public long Counted(string figure)
    {
        lock (_failures)
        {
            return _counts.GetValueOrDefault(figure);
        }
    }

    /// <summary>Writes the figures (and every distinct failure, with how often it was seen) to
    /// the test output and the figures to the shared figures file, then fails the test if any
    /// case failed.</summary>
    public void Report(ITestOutputHelper output)
    {
        var line = ToString();
        output.WriteLine(line);
        if (Environment.GetEnvironmentVariable("FORMATION_FAULT_FIGURES") is { Length: > 0 } file)
        {
            File.AppendAllText(file, line + Environment.NewLine);
        }
        var failures = Failures;
        foreach (var (failure, times) in failures.CountBy(f => f).OrderByDescending(f => f.Value))
        {
            output.WriteLine($"failure ({times}×): {failure}");
        }
        Assert.True(failures.Count == 0, $"{line}\n{string.Join('\n', failures.Take(20))}");
    }

    public override string ToString()
    {
        lock (_failures)
        {
            var counts = string.Concat(_counts.OrderBy(c => c.Key, StringComparer.Ordinal)
                .Select(c => string.Create(CultureInfo.InvariantCulture, $", {c.Key} {c.Value}")));
            return string.Create(CultureInfo.InvariantCulture, $"{Probe}: {Cases} cases, {_failures.Count} failures{counts}");
        }
    }
}
