using System.CommandLine;
using Spectre.Console;

namespace CsiDriver.Demo;

/// <summary>
/// `formation-demo`: a main and a backup site on this machine, a shop writing orders to two
/// volumes of a consistency group, replication to the backup while it runs, analytics on backup
/// snapshots, a disaster, and the per-volume contrast. Exit code 0: PASS; 1: FAIL; 2: could
/// not run.
/// </summary>
public static class DemoCommand
{
    public static RootCommand Build()
    {
        var csidriver = new Option<string>("--csidriver")
        {
            Description = "The published csidriver executable the sites run",
            DefaultValueFactory = _ => "out/csidriver/csidriver",
        };
        var duration = DurationOption("--duration", "Time the shop writes in the group-mode run, e.g. 30s (the contrast writes half of it)", "30s");
        var rate = new Option<int>("--rate") { Description = "Orders per second the shop aims at", DefaultValueFactory = _ => 50 };
        rate.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > 10_000)
            {
                r.AddError("--rate: between 1 and 10000 orders per second");
            }
        });
        var linkDelay = DurationOption("--link-delay", "One-way delay added to the link between the sites, e.g. 10ms", "10ms");
        var jitter = DurationOption("--jitter", "How far each link connection's delay swings (a second on, a second off, out of step between connections, so per-volume mode's links lag differently), e.g. 400ms", "400ms");
        var keep = new Option<bool>("--keep") { Description = "Leave the sites running at the end and print how to reach them" };
        var output = new Option<string>("--output")
        {
            Description = "Directory for the sites' data, certificates, logs and report.html",
            DefaultValueFactory = _ => "demo-output",
        };
        var raw = new Option<bool>("--raw") { Description = "Write raw block records through NBD instead of SQLite databases on mounted volumes" };
        var checks = new Option<int>("--snapshot-checks") { Description = "Backup snapshots checked in each mode", DefaultValueFactory = _ => 4 };
        var command = new RootCommand(
            "The Formation demo: backup with no impact on business processing. Two csidriver sites, a shop, replication, a disaster.")
        {
            csidriver, duration, rate, linkDelay, jitter, keep, output, checks, raw,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var options = new DemoOptions
            {
                CsiDriver = Path.GetFullPath(result.GetValue(csidriver)!),
                Duration = Parse(result.GetValue(duration)!),
                Rate = result.GetValue(rate),
                LinkDelay = Parse(result.GetValue(linkDelay)!),
                Jitter = Parse(result.GetValue(jitter)!),
                Keep = result.GetValue(keep),
                OutputDirectory = Path.GetFullPath(result.GetValue(output)!),
                SnapshotChecks = Math.Max(1, result.GetValue(checks)),
                RawBlocks = result.GetValue(raw),
            };
            var console = AnsiConsole.Console;
            if (Console.IsOutputRedirected)
            {
                // A log or a pipe is not a narrow terminal: do not wrap lines at 80 columns.
                console.Profile.Width = 200;
            }
            var timeline = new DemoTimeline();
            var results = new DemoResults();
            try
            {
                await LiveView.RunAsync(console, timeline, () => new DemoRun(options, timeline, results).RunAsync(cancellationToken));
            }
            catch (DemoException e)
            {
                console.MarkupLine($"[red]demo: {Markup.Escape(e.Message)}[/]");
                return 2;
            }
            var report = HtmlReport.Write(options.OutputDirectory, options, timeline, results);
            DemoSummary.Render(console, results, report);
            return results.Passed ? 0 : 1;
        });
        return command;
    }

    private static Option<string> DurationOption(string name, string description, string defaultValue)
    {
        var option = new Option<string>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(r =>
        {
            if (!DurationText.TryParse(r.GetValueOrDefault<string>() ?? "", out _))
            {
                r.AddError($"{name}: '{r.GetValueOrDefault<string>()}' is not a duration such as 500ms, 10s or 2m");
            }
        });
        return option;
    }

    private static TimeSpan Parse(string text) => DurationText.TryParse(text, out var duration) ? duration : throw new FormatException(text);
}
