using System.Globalization;

namespace CsiDriver.Demo;

/// <summary>
/// Reads a site's metrics endpoint (Prometheus text exposition) and picks figures by name
/// suffix and label value, so the demo shows what an operator's dashboard would.
/// </summary>
public sealed class MetricsReader(string address) : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(3) };

    /// <summary>One sample line: metric name, its label text, value.</summary>
    public sealed record Line(string Name, string Labels, double Value);

    public async Task<IReadOnlyList<Line>> ReadAsync(CancellationToken cancellationToken)
    {
        var text = await _http.GetStringAsync($"http://{address}/metrics", cancellationToken);
        return Parse(text);
    }

    /// <summary>Sum of the samples whose name ends with <paramref name="suffix"/> and whose
    /// labels hold one of <paramref name="labelValues"/>; null when there is none.</summary>
    public static double? Sum(IReadOnlyList<Line> lines, string suffix, IReadOnlyList<string> labelValues) =>
        Matching(lines, suffix, labelValues) is { Count: > 0 } matching ? matching.Sum(l => l.Value) : null;

    private static List<Line> Matching(IReadOnlyList<Line> lines, string suffix, IReadOnlyList<string> labelValues) =>
        lines.Where(l => l.Name.EndsWith(suffix, StringComparison.Ordinal)
            && labelValues.Any(v => l.Labels.Contains('"' + v + '"', StringComparison.Ordinal))).ToList();

    public static IReadOnlyList<Line> Parse(string text)
    {
        var lines = new List<Line>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            var brace = line.IndexOf('{', StringComparison.Ordinal);
            var close = line.LastIndexOf('}');
            var nameEnd = brace >= 0 ? brace : line.IndexOf(' ', StringComparison.Ordinal);
            if (nameEnd <= 0)
            {
                continue;
            }
            var labels = brace >= 0 && close > brace ? line[(brace + 1)..close] : "";
            var rest = (close > brace && brace >= 0 ? line[(close + 1)..] : line[nameEnd..]).Trim().Split(' ');
            if (double.TryParse(rest[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                lines.Add(new Line(line[..nameEnd], labels, value));
            }
        }
        return lines;
    }

    public void Dispose() => _http.Dispose();
}
