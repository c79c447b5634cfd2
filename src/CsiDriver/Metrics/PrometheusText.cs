using System.Globalization;
using System.Text;

namespace CsiDriver.Metrics;

/// <summary>
/// The Prometheus text exposition format, version 0.0.4: per family a <c># HELP</c> line, a
/// <c># TYPE</c> line, then its samples, one per line, <c>name{label="value",...} value</c>,
/// each line ending in a line feed. Help text escapes backslash and line feed; label values
/// escape backslash, double quote and line feed. Output is deterministic: families in name
/// order, samples in label order, so two scrapes of the same state are byte for byte equal.
/// </summary>
public static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string Render(IEnumerable<MetricFamily> families)
    {
        var text = new StringBuilder();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var family in families.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            RequireName(family.Name, allowColon: true, "metric");
            if (!seen.Add(family.Name))
            {
                throw new ArgumentException($"metric family '{family.Name}' appears twice; a scrape must hold each family once", nameof(families));
            }
            text.Append("# HELP ").Append(family.Name).Append(' ').Append(EscapeHelp(family.Help)).Append('\n');
            text.Append("# TYPE ").Append(family.Name).Append(' ').Append(family.Type == MetricType.Counter ? "counter" : "gauge").Append('\n');
            foreach (var sample in family.Samples.OrderBy(LabelKey, StringComparer.Ordinal))
            {
                text.Append(family.Name);
                AppendLabels(text, sample.Labels);
                text.Append(' ').Append(FormatValue(sample.Value)).Append('\n');
            }
        }
        return text.ToString();
    }

    public static string EscapeHelp(string help) => help.Replace("\\", @"\\", StringComparison.Ordinal).Replace("\n", @"\n", StringComparison.Ordinal);

    public static string EscapeLabelValue(string value) =>
        value.Replace("\\", @"\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", @"\n", StringComparison.Ordinal);

    /// <summary>Go's float formatting as Prometheus reads it: NaN, +Inf, -Inf, otherwise the
    /// shortest text that reads back as the same double.</summary>
    public static string FormatValue(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private static void AppendLabels(StringBuilder text, IReadOnlyList<KeyValuePair<string, string>> labels)
    {
        if (labels.Count == 0)
        {
            return;
        }
        text.Append('{');
        for (var i = 0; i < labels.Count; i++)
        {
            RequireName(labels[i].Key, allowColon: false, "label");
            text.Append(i == 0 ? "" : ",").Append(labels[i].Key).Append("=\"").Append(EscapeLabelValue(labels[i].Value)).Append('"');
        }
        text.Append('}');
    }

    /// <summary>Orders samples by their label values in label order (labels are written in the
    /// order given, so samples of one family list them alike).</summary>
    private static string LabelKey(MetricSample sample) =>
        string.Join('\u0000', sample.Labels.Select(l => l.Key + "\u0001" + l.Value));

    /// <summary>Metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names the same without the
    /// colon; a name outside that is a bug in the caller, not something to escape.</summary>
    private static void RequireName(string name, bool allowColon, string what)
    {
        var valid = name.Length > 0
            && !char.IsAsciiDigit(name[0])
            && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':'));
        if (!valid)
        {
            throw new ArgumentException($"'{name}' is not a valid Prometheus {what} name");
        }
    }
}
