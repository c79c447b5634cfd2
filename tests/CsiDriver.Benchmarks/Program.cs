using System.Globalization;
using System.Reflection;
using CsiDriver.Benchmarks;

// Runs every IBenchmark in this assembly (or those named as arguments) and prints a summary.
var selected = new HashSet<string>(args, StringComparer.OrdinalIgnoreCase);
var benchmarks = Assembly.GetExecutingAssembly().GetTypes()
    .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IBenchmark).IsAssignableFrom(t))
    .Select(t => (IBenchmark)Activator.CreateInstance(t)!)
    .Where(b => selected.Count == 0 || selected.Contains(b.Name))
    .OrderBy(b => b.Name, StringComparer.Ordinal)
    .ToList();

var root = AppContext.BaseDirectory;
while (!File.Exists(Path.Combine(root, "CsiDriver.sln")))
{
    root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("CsiDriver.sln not found above " + AppContext.BaseDirectory);
}

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
var results = new List<(string Benchmark, BenchmarkFigure Figure)>();
var failed = 0;
foreach (var benchmark in benchmarks)
{
    var work = Directory.CreateTempSubdirectory("formation-bench-" + benchmark.Name + "-").FullName;
    Console.WriteLine($"== {benchmark.Name}");
    try
    {
        foreach (var figure in await benchmark.RunAsync(new BenchmarkContext(work, root, Console.Out), cts.Token))
        {
            results.Add((benchmark.Name, figure));
        }
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
Console.WriteLine($"{"benchmark",-16} {"figure",-44} {"value",12} {"unit",-8} goal");
foreach (var (name, f) in results)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{name,-16} {f.Name,-44} {f.Value,12:0.###} {f.Unit,-8} {f.Goal ?? ""}"));
}
return failed == 0 ? 0 : 1;
