using System.Globalization;
using System.Net;
using System.Text;

namespace CsiDriver.Demo;

/// <summary>A line series of a chart: (seconds, value) points; gaps where a value is missing.</summary>
public sealed record Series(string Name, string Color, IReadOnlyList<(double X, double? Y)> Points);

/// <summary>A vertical marker on a chart (a phase starting).</summary>
public sealed record Marker(double X, string Label);

/// <summary>
/// A small self-contained SVG line chart (axes, ticks, series, phase markers) for the HTML
/// report: no script, no external resource, so the report opens anywhere.
/// </summary>
public static class SvgChart
{
    private const int Width = 960;
    private const int Height = 260;
    private const int Left = 60;
    private const int Right = 20;
    private const int Top = 20;
    private const int Bottom = 40;

    public static string Render(string yLabel, IReadOnlyList<Series> series, IReadOnlyList<Marker> markers)
    {
        var points = series.SelectMany(s => s.Points).Where(p => p.Y is not null).ToList();
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {Width} {Height}\" width=\"{Width}\" height=\"{Height}\" font-family=\"sans-serif\" font-size=\"11\">");
        if (points.Count == 0)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"{Height / 2}\" text-anchor=\"middle\" fill=\"#888\">no data</text></svg>");
            return svg.ToString();
        }
        var xMax = Math.Max(1, series.SelectMany(s => s.Points).Max(p => p.X));
        var yMax = Nice(Math.Max(points.Max(p => p.Y!.Value), 1e-3));
        double X(double x) => Left + x / xMax * (Width - Left - Right);
        double Y(double y) => Height - Bottom - y / yMax * (Height - Top - Bottom);

        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{Width - Left - Right}\" height=\"{Height - Top - Bottom}\" fill=\"#fafafa\" stroke=\"#ccc\"/>");
        for (var i = 0; i <= 4; i++)
        {
            var y = yMax * i / 4;
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{Y(y):F1}\" y2=\"{Y(y):F1}\" stroke=\"#e4e4e4\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{Y(y) + 4:F1}\" text-anchor=\"end\">{Format(y)}</text>");
        }
        var step = Nice(xMax / 8);
        for (var x = 0.0; x <= xMax; x += step)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{X(x):F1}\" y=\"{Height - Bottom + 16}\" text-anchor=\"middle\">{x:F0} s</text>");
        }
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"14\" y=\"{Top + (Height - Top - Bottom) / 2}\" transform=\"rotate(-90 14 {Top + (Height - Top - Bottom) / 2})\" text-anchor=\"middle\">{WebUtility.HtmlEncode(yLabel)}</text>");
        foreach (var marker in markers)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{X(marker.X):F1}\" x2=\"{X(marker.X):F1}\" y1=\"{Top}\" y2=\"{Height - Bottom}\" stroke=\"#bbb\" stroke-dasharray=\"3,3\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{X(marker.X) + 3:F1}\" y=\"{Top + 10}\" fill=\"#777\" font-size=\"9\" transform=\"rotate(90 {X(marker.X) + 3:F1} {Top + 10})\">{WebUtility.HtmlEncode(marker.Label)}</text>");
        }
        var legendX = Left + 10;
        foreach (var s in series)
        {
            foreach (var run in Runs(s.Points))
            {
                var path = string.Join(' ', run.Select((p, i) => $"{(i == 0 ? 'M' : 'L')}{X(p.X):F1},{Y(p.Y):F1}"));
                svg.Append(CultureInfo.InvariantCulture, $"<path d=\"{path}\" fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"1.6\"/>");
            }
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{legendX}\" y=\"{Height - 14}\" width=\"12\" height=\"4\" fill=\"{s.Color}\"/><text x=\"{legendX + 16}\" y=\"{Height - 9}\">{WebUtility.HtmlEncode(s.Name)}</text>");
            legendX += 30 + s.Name.Length * 7;
        }
        svg.Append("</svg>");
        return svg.ToString();
    }

    /// <summary>Unbroken stretches of a series (a missing value breaks the line).</summary>
    private static IEnumerable<List<(double X, double Y)>> Runs(IReadOnlyList<(double X, double? Y)> points)
    {
        var current = new List<(double, double)>();
        foreach (var (x, y) in points)
        {
            if (y is { } value)
            {
                current.Add((x, value));
            }
            else if (current.Count > 0)
            {
                yield return current;
                current = [];
            }
        }
        if (current.Count > 0)
        {
            yield return current;
        }
    }

    /// <summary>The next 1, 2 or 5 times a power of ten at or above <paramref name="value"/>.</summary>
    private static double Nice(double value)
    {
        var power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        return new[] { 1.0, 2, 5, 10 }.Select(f => f * power).First(v => v >= value);
    }

    private static string Format(double value) =>
        value >= 100 ? value.ToString("F0", CultureInfo.InvariantCulture) : value.ToString("0.###", CultureInfo.InvariantCulture);
}
