using System.Globalization;
using System.Text.RegularExpressions;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>The samples of a Prometheus text exposition (format 0.0.4), read back by tests:
/// `name{label="value",...} number` lines; comments and blank lines skipped.</summary>
public sealed partial class PrometheusSamples
{
    private readonly List<(string Name, Dictionary<string, string> Labels, double Value)> _samples = [];

    public PrometheusSamples(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            var match = Sample().Match(line);
            Assert.True(match.Success, $"not a Prometheus sample line: '{line}'");
            var labels = Label().Matches(match.Groups["labels"].Value)
                .ToDictionary(m => m.Groups["key"].Value, m => Regex.Unescape(m.Groups["value"].Value), StringComparer.Ordinal);
            _samples.Add((match.Groups["name"].Value, labels, ParseValue(match.Groups["value"].Value)));
        }
    }

    /// <summary>The value of <paramref name="name"/> whose labels include <paramref name="label"/>
    /// = <paramref name="value"/>, or null when the endpoint does not expose it.</summary>
    public double? Find(string name, string label, string value) =>
        _samples.Where(s => s.Name == name && s.Labels.GetValueOrDefault(label) == value).Select(s => (double?)s.Value).FirstOrDefault();

    public double Require(string name, string label, string value) =>
        Find(name, label, value) ?? throw new Xunit.Sdk.XunitException($"no sample {name}{{{label}=\"{value}\"}}; names exposed: {string.Join(", ", _samples.Select(s => s.Name).Distinct())}");

    private static double ParseValue(string text) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.Parse(text, CultureInfo.InvariantCulture),
    };

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+-?\d+)?$")]
    private static partial Regex Sample();

    [GeneratedRegex(@"(?<key>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<value>(\\.|[^""\\])*)""")]
    private static partial Regex Label();
}
