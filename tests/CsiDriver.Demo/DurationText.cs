using System.Globalization;

namespace CsiDriver.Demo;

/// <summary>Durations as the demo's options take them: 500ms, 10s, 2m, or a bare number of seconds.</summary>
public static class DurationText
{
    private static readonly (string Suffix, double Seconds)[] Units = [("ms", 0.001), ("s", 1), ("m", 60)];

    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        var number = text.Trim();
        var factor = 1.0;
        foreach (var (suffix, seconds) in Units)
        {
            if (number.EndsWith(suffix, StringComparison.Ordinal))
            {
                factor = seconds;
                number = number[..^suffix.Length];
                break;
            }
        }
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || value * factor > TimeSpan.MaxValue.TotalSeconds / 2)
        {
            return false;
        }
        duration = TimeSpan.FromSeconds(value * factor);
        return true;
    }
}
