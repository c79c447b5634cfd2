using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace CsiDriver.Demo;

/// <summary>
/// Progress while the demo runs: on a terminal a live panel (run, phase, orders, orders/s,
/// latency, lag, journal, latest events) redrawn a few times a second; elsewhere (a pipe, a
/// test) each event as a line and the figures every few seconds.
/// </summary>
public static class LiveView
{
    private static readonly TimeSpan Redraw = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan PlainStatusEvery = TimeSpan.FromSeconds(5);
    private const int EventsShown = 10;

    public static async Task RunAsync(IAnsiConsole console, DemoTimeline timeline, Func<Task> work)
    {
        if (console.Profile.Capabilities.Interactive)
        {
            await console.Live(Render(timeline)).AutoClear(false).StartAsync(async context =>
            {
                var running = work();
                while (await Task.WhenAny(running, Task.Delay(Redraw)) != running)
                {
                    context.UpdateTarget(Render(timeline));
                }
                context.UpdateTarget(Render(timeline));
                await running;
            });
            return;
        }
        void Print(DemoEvent e) => console.WriteLine($"[{e.Seconds,6:F1}s] {e.Text}");
        foreach (var e in timeline.Events)
        {
            Print(e);
        }
        timeline.EventAdded += Print;
        try
        {
            var running = work();
            while (await Task.WhenAny(running, Task.Delay(PlainStatusEvery)) != running)
            {
                if (timeline.Samples.LastOrDefault() is { } s && timeline.Now - s.Seconds < PlainStatusEvery.TotalSeconds)
                {
                    console.WriteLine($"[{s.Seconds,6:F1}s]   {s.Run}/{s.Phase}: {s.Committed} orders, {s.OrdersPerSecond:F0}/s" +
                        (s.LatencyMs is { } l ? $", latency {l:F1} ms" : "") + (s.LagSeconds is { } lag ? $", lag {lag:F3} s" : "") +
                        (s.JournalBytes is { } j ? $", journal {Bytes(j)}" : ""));
                }
            }
            await running;
        }
        finally
        {
            timeline.EventAdded -= Print;
        }
    }

    private static IRenderable Render(DemoTimeline timeline)
    {
        var (run, phase) = timeline.Position;
        var sample = timeline.Samples.LastOrDefault(s => s.Run == run);
        var figures = new Table().Border(TableBorder.Rounded).HideHeaders()
            .AddColumn("figure").AddColumn(new TableColumn("value").RightAligned());
        figures.AddRow("elapsed", $"{timeline.Now:F0} s");
        figures.AddRow("run", Markup.Escape(run) + " mode");
        figures.AddRow("phase", $"[bold yellow]{Markup.Escape(phase)}[/]");
        figures.AddRow("orders committed", sample?.Committed.ToString(CultureInfo.InvariantCulture) ?? "-");
        figures.AddRow("orders/s", sample is null ? "-" : $"[green]{sample.OrdersPerSecond:F1}[/]");
        figures.AddRow("order latency", sample?.LatencyMs is { } l ? $"{l:F1} ms" : "-");
        figures.AddRow("replication lag", sample?.LagSeconds is { } lag ? $"[aqua]{lag:F3} s[/]" : "-");
        figures.AddRow("journal held for backup", sample?.JournalBytes is { } j ? Bytes(j) : "-");
        var events = new Rows(timeline.Events.TakeLast(EventsShown)
            .Select(e => new Markup($"[grey]{e.Seconds,6:F1}s[/] {Markup.Escape(e.Text)}")));
        return new Rows(
            new Panel(figures).Header("Formation: backup with no impact on business processing").Expand(),
            new Panel(events).Header("what happens").Expand());
    }

    public static string Bytes(double bytes) => bytes switch
    {
        >= 1 << 30 => $"{bytes / (1 << 30):F2} GiB",
        >= 1 << 20 => $"{bytes / (1 << 20):F1} MiB",
        >= 1 << 10 => $"{bytes / (1 << 10):F1} KiB",
        _ => $"{bytes:F0} B",
    };
}
