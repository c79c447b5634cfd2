using System.Globalization;
using System.Net;
using System.Text;

namespace CsiDriver.Demo;

/// <summary>
/// report.html under the output directory: verdict, steps, figures, analytics, and charts of
/// throughput and lag over time, in one self-contained file (inline CSS and SVG).
/// </summary>
public static class HtmlReport
{
    public const string FileName = "report.html";

    private static readonly Dictionary<string, string> RunColors = new(StringComparer.Ordinal)
    {
        [DemoRun.GroupRun] = "#1f77b4",
        [DemoRun.PerVolumeRun] = "#d62728",
    };

    public static string Write(string outputDirectory, DemoOptions options, DemoTimeline timeline, DemoResults results)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Formation demo report</title><style>")
            .Append("body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}")
            .Append("table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}")
            .Append(".Pass{color:#2a7a2a;font-weight:bold}.Fail{color:#b00;font-weight:bold}.Warn{color:#b80;font-weight:bold}.Skipped{color:#888}")
            .Append(".verdict{font-size:1.6em}pre{background:#f4f4f4;padding:8px;overflow-x:auto}")
            .Append("</style></head><body>");
        html.Append("<h1>Formation: backup with no impact on business processing</h1>");
        html.Append(CultureInfo.InvariantCulture, $"<p class=\"verdict {(results.Passed ? "Pass" : "Fail")}\">{(results.Passed ? "PASS" : "FAIL")}</p>");
        html.Append(CultureInfo.InvariantCulture,
            $"<p>Run {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC: --duration {options.Duration.TotalSeconds:F0}s --rate {options.Rate} --link-delay {options.LinkDelay.TotalMilliseconds:F0}ms --jitter {options.Jitter.TotalMilliseconds:F0}ms.</p>");

        html.Append("<h2>Steps</h2><table><tr><th>run</th><th>step</th><th>result</th><th>detail</th></tr>");
        foreach (var step in results.Steps)
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(step.Run)}</td><td>{E(step.Step)}</td><td class=\"{step.Outcome}\">{step.Outcome.ToString().ToUpperInvariant()}</td><td>{E(step.Detail)}</td></tr>");
        }
        html.Append("</table><h2>Figures</h2><table>");
        foreach (var (name, value) in results.Figures)
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr><th>{E(name)}</th><td>{E(value)}</td></tr>");
        }
        html.Append("</table>");
        if (results.Analytics.Count > 0)
        {
            html.Append("<h2>Analytics on the backup's snapshot clones</h2><table><tr><th>item</th><th>orders</th><th>sold</th><th>stock left</th><th>sold + left = initial</th></tr>");
            foreach (var item in results.Analytics)
            {
                html.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(item.Item)}</td><td>{item.Orders}</td><td>{item.Sold}</td><td>{item.StockLeft}</td><td class=\"{(item.Balances ? "Pass" : "Fail")}\">{(item.Balances ? "yes" : "no")}</td></tr>");
            }
            html.Append("</table>");
        }

        var samples = timeline.Samples;
        var markers = PhaseStarts(samples);
        html.Append("<h2>Business throughput</h2>");
        html.Append(SvgChart.Render("orders/s", SeriesOf(samples, s => s.OrdersPerSecond), markers));
        html.Append("<h2>Replication lag</h2>");
        html.Append(SvgChart.Render("lag (s)", SeriesOf(samples, s => s.LagSeconds), markers));
        if (samples.Any(s => s.JournalBytes is not null))
        {
            html.Append("<h2>Journal held for the backup</h2>");
            html.Append(SvgChart.Render("KiB", SeriesOf(samples, s => s.JournalBytes / 1024), markers));
        }
        html.Append("<h2>Events</h2><pre>");
        foreach (var e in timeline.Events)
        {
            html.Append(CultureInfo.InvariantCulture, $"{e.Seconds,7:F1}s  {E(e.Text)}\n");
        }
        html.Append("</pre>");
        if (results.KeptCommands.Count > 0)
        {
            html.Append("<h2>Sites left running</h2><pre>").Append(E(string.Join('\n', results.KeptCommands))).Append("</pre>");
        }
        html.Append("</body></html>");
        var path = Path.Combine(outputDirectory, FileName);
        File.WriteAllText(path, html.ToString());
        return path;
    }

    private static List<Series> SeriesOf(IReadOnlyList<Sample> samples, Func<Sample, double?> value) =>
        samples.GroupBy(s => s.Run)
            .Select(g => new Series(g.Key + " mode", RunColors.GetValueOrDefault(g.Key, "#555"), g.Select(s => (s.Seconds, value(s))).ToList()))
            .ToList();

    private static List<Marker> PhaseStarts(IReadOnlyList<Sample> samples)
    {
        var markers = new List<Marker>();
        string? previous = null;
        foreach (var sample in samples)
        {
            var label = $"{sample.Run}: {sample.Phase}";
            if (label != previous)
            {
                markers.Add(new Marker(sample.Seconds, label));
                previous = label;
            }
        }
        return markers;
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
