using Spectre.Console;

namespace CsiDriver.Demo;

/// <summary>The end of the demo in the terminal: steps, figures, analytics, verdict.</summary>
public static class DemoSummary
{
    public static void Render(IAnsiConsole console, DemoResults results, string reportPath)
    {
        var steps = new Table().Border(TableBorder.Rounded).Title("[bold]Formation demo: summary[/]")
            .AddColumn("run").AddColumn("step").AddColumn("result").AddColumn("detail");
        foreach (var step in results.Steps)
        {
            var color = step.Outcome switch { Outcome.Pass => "green", Outcome.Fail => "red", Outcome.Warn => "yellow", _ => "grey" };
            steps.AddRow(Markup.Escape(step.Run), Markup.Escape(step.Step), $"[{color}]{step.Outcome.ToString().ToUpperInvariant()}[/]", Markup.Escape(step.Detail));
        }
        console.Write(steps);
        if (results.Figures.Count > 0)
        {
            var figures = new Table().Border(TableBorder.Rounded).AddColumn("figure").AddColumn(new TableColumn("value").RightAligned());
            foreach (var (name, value) in results.Figures)
            {
                figures.AddRow(Markup.Escape(name), Markup.Escape(value));
            }
            console.Write(figures);
        }
        if (results.Analytics.Count > 0)
        {
            var analytics = new Table().Border(TableBorder.Rounded).Title("analytics on the backup's snapshot clones")
                .AddColumn("item").AddColumn(new TableColumn("orders").RightAligned()).AddColumn(new TableColumn("sold").RightAligned())
                .AddColumn(new TableColumn("stock left").RightAligned()).AddColumn("balances");
            foreach (var item in results.Analytics)
            {
                analytics.AddRow(item.Item, item.Orders.ToString(), item.Sold.ToString(), item.StockLeft.ToString(), item.Balances ? "[green]yes[/]" : "[red]no[/]");
            }
            console.Write(analytics);
        }
        foreach (var line in results.KeptCommands)
        {
            console.WriteLine(line);
        }
        console.WriteLine($"report: {reportPath}");
        var failures = results.Steps.Where(s => s.Outcome == Outcome.Fail).ToList();
        var skipped = results.Steps.Count(s => s.Outcome == Outcome.Skipped);
        var warned = results.Steps.Count(s => s.Outcome == Outcome.Warn);
        var notes = new[] { (warned, "with a warning"), (skipped, "skipped") }.Where(n => n.Item1 > 0).Select(n => $"{n.Item1} step(s) {n.Item2}").ToList();
        if (failures.Count == 0)
        {
            console.MarkupLine($"[bold green]PASS[/]{(notes.Count > 0 ? $" ({string.Join(", ", notes)}; reasons above)" : "")}");
        }
        else
        {
            console.MarkupLine("[bold red]FAIL[/]");
            foreach (var failure in failures)
            {
                console.MarkupLine($"  [red]{Markup.Escape(failure.Run)} / {Markup.Escape(failure.Step)}[/]: {Markup.Escape(failure.Detail)}");
            }
        }
    }
}
