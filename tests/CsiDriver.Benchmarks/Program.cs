using System.Globalization;
using System.Reflection;
using CsiDriver.Benchmarks;

// Runs every IBenchmark in this assembly (or those named as arguments), prints a summary with a
// verdict per goal, and exits non-zero when a goal is missed (or a benchmark failed), unless
// --report-only is given: then only a failed benchmark makes the exit non-zero.
const string ReportOnlyFlag = "--report-only";
var reportOnly = args.Contains(ReportOnlyFlag, StringComparer.Ordinal);
var selected = new HashSet<string>(args.Where(a => a != ReportOnlyFlag), StringComparer.OrdinalIgnoreCase);
var benchmarks = Assembly.GetExecutingAssembly().GetTypes()
    .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IBenchmark).IsAssignableFrom(t))
    .Select(t => (IBenchmark)Activator.CreateInstance(t)!)
    .Where(b => selected.Count == 0 || selected.Contains(b.Name))
    .OrderBy(b => b.Name, StringComparer.Ordinal)
    .ToList();
var unknown = selected.Except(benchmarks.Select(b => b.Name), StringComparer.OrdinalIgnoreCase).ToList();
if (unknown.Count > 0)
{
    Console.Error.WriteLine($"no benchmark named {string.Join(", ", unknown)}");
    return 2;
}

var root = AppContext.BaseDirectory;
while (!File.Exists(Path.Combine(root, "CsiDriver.sln")))
{
    root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("CsiDriver.sln not found above " + AppContext.BaseDirectory);
}

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
var results = new List<(string Benchmark, BenchmarkFigure Figure, string Load)>();
var failed = 0;
foreach (var benchmark in benchmarks)
{
    var work = Directory.CreateTempSubdirectory("formation-bench-" + benchmark.Name + "-").FullName;
    Console.WriteLine($"== {benchmark.Name} (load average {LoadAverage.Now()})");
    try
    {
        var figures = await benchmark.RunAsync(new BenchmarkContext(work, root, Console.Out), cts.Token);
        // The load while it ran: the 1-minute average at its end covers most of a benchmark's run.
        var load = LoadAverage.Now();
        results.AddRange(figures.Select(f => (benchmark.Name, f, load)));
    }
    catch (Exception e) when (e is not OperationCanceledException)
    {
        failed++;
        Console.WriteLine($"   FAILED: {e.Message}");
    }
    finally
    {
        Directory.Delete(work, recursive: true);
    }
}

Console.WriteLine();
Console.WriteLine($"{"benchmark",-20} {"figure",-52} {"value",12} {"unit",-8} {"goal",-8} {"verdict",-12} load (1/5/15 min)");
var missed = 0;
foreach (var (name, f, load) in results)
{
    var verdict = f.Goal is null ? "" : f.Inconclusive is not null ? "inconclusive" : f.Goal.IsMet(f.Value) ? "PASS" : "FALL SHORT";
    missed += verdict == "FALL SHORT" ? 1 : 0;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{name,-20} {f.Name,-52} {f.Value,12:0.###} {f.Unit,-8} {f.Goal?.ToString() ?? "",-8} {verdict,-12} {load}"));
    if (f.Inconclusive is not null)
    {
        Console.WriteLine($"{"",-20}   inconclusive: {f.Inconclusive}");
    }
}
var goals = results.Count(r => r.Figure.Goal is not null);
var inconclusive = results.Count(r => r.Figure.Goal is not null && r.Figure.Inconclusive is not null);
Console.WriteLine();
Console.WriteLine($"{goals - missed - inconclusive} of {goals} goals met, {missed} fell short, {inconclusive} inconclusive; {failed} benchmark(s) failed to run" +
    (reportOnly && missed > 0 ? " (report only: the exit code ignores missed goals)" : ""));
return failed > 0 || (missed > 0 && !reportOnly) ? 1 : 0;
