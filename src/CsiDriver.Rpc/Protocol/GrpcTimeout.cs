namespace CsiDriver.Rpc.Protocol;

/// <summary>
/// The grpc-timeout header: at most 8 ASCII digits followed by one unit letter
/// (H hours, M minutes, S seconds, m milliseconds, u microseconds, n nanoseconds).
/// </summary>
internal static class GrpcTimeout
{
    public const int MaxDigits = 8;
    private const long MaxValue = 99_999_999;

    public static bool TryParse(ReadOnlySpan<char> value, out TimeSpan timeout)
    {
        timeout = default;
        if (value.Length < 2 || value.Length > MaxDigits + 1)
        {
            return false;
        }
        long amount = 0;
        foreach (var c in value[..^1])
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
            amount = (amount * 10) + (c - '0');
        }
        long? ticks = value[^1] switch
        {
            'H' => amount * TimeSpan.TicksPerHour,
            'M' => amount * TimeSpan.TicksPerMinute,
            'S' => amount * TimeSpan.TicksPerSecond,
            'm' => amount * TimeSpan.TicksPerMillisecond,
            'u' => amount * TimeSpan.TicksPerMicrosecond,
            // A tick is 100 ns; round up so that a positive timeout never becomes zero.
            'n' => (amount + 99) / 100,
            _ => null,
        };
        if (ticks is null)
        {
            return false;
        }
        timeout = TimeSpan.FromTicks(ticks.Value);
        return true;
    }

    /// <summary>Formats in the finest unit whose value fits in 8 digits, rounding up.</summary>
    public static string Format(TimeSpan timeout)
    {
        var ticks = Math.Max(0, timeout.Ticks);
        ReadOnlySpan<(char Unit, long TicksPerUnit)> units =
        [
            ('u', TimeSpan.TicksPerMicrosecond),
            ('m', TimeSpan.TicksPerMillisecond),
            ('S', TimeSpan.TicksPerSecond),
            ('M', TimeSpan.TicksPerMinute),
            ('H', TimeSpan.TicksPerHour),
        ];
        if (ticks * 100 <= MaxValue)
        {
            return $"{ticks * 100}n";
        }
        foreach (var (unit, perUnit) in units)
        {
            var amount = (ticks + perUnit - 1) / perUnit;
            if (amount <= MaxValue)
            {
                return $"{amount}{unit}";
            }
        }
        return $"{MaxValue}H";
    }
}
