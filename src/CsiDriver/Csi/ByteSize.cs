using System.Globalization;

namespace CsiDriver.Csi;

/// <summary>Sizes as Kubernetes quantities are written: 1048576, 10G (powers of 1000) or 10Gi (powers of 1024).</summary>
public static class ByteSize
{
    private static readonly (string Suffix, long Factor)[] Suffixes =
    [
        ("Ki", 1L << 10), ("Mi", 1L << 20), ("Gi", 1L << 30), ("Ti", 1L << 40), ("Pi", 1L << 50),
        ("k", 1_000L), ("K", 1_000L), ("M", 1_000_000L), ("G", 1_000_000_000L), ("T", 1_000_000_000_000L), ("P", 1_000_000_000_000_000L),
    ];

    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        var factor = 1L;
        var number = text.Trim();
        foreach (var (suffix, f) in Suffixes)
        {
            if (number.EndsWith(suffix, StringComparison.Ordinal))
            {
                factor = f;
                number = number[..^suffix.Length];
                break;
            }
        }
        if (!long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value > long.MaxValue / factor)
        {
            return false;
        }
        bytes = value * factor;
        return true;
    }

    public static long Parse(string text) =>
        TryParse(text, out var bytes) ? bytes : throw new FormatException($"'{text}' is not a size such as 500Gi, 10G or 1048576");
}
