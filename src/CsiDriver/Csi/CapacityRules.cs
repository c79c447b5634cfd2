using Csi.V1;
using CsiDriver.Engine;
using CsiDriver.Rpc;

namespace CsiDriver.Csi;

/// <summary>How a CapacityRange becomes a volume size: sizes are whole engine blocks.</summary>
public static class CapacityRules
{
    public const long DefaultBytes = 1L << 30;

    public const long MinimumBytes = VolumeIds.BlockSize;

    public const long MaximumBytes = 64L << 40;

    /// <summary>The size to create for <paramref name="range"/>: required_bytes rounded up to a
    /// block, or the default when only a limit (or nothing) is given.</summary>
    public static long SizeFor(CapacityRange? range)
    {
        var required = range?.RequiredBytes ?? 0;
        var limit = range?.LimitBytes ?? 0;
        if (required < 0 || limit < 0)
        {
            throw new RpcException(StatusCode.OutOfRange, $"capacity_range must not be negative (required_bytes {required}, limit_bytes {limit})");
        }
        if (limit > 0 && required > limit)
        {
            throw new RpcException(StatusCode.OutOfRange, $"capacity_range.required_bytes {required} exceeds limit_bytes {limit}");
        }
        var size = required > 0 ? RoundUp(required) : limit > 0 ? Math.Min(DefaultBytes, limit / MinimumBytes * MinimumBytes) : DefaultBytes;
        if (size < MinimumBytes || (limit > 0 && size > limit))
        {
            throw new RpcException(StatusCode.OutOfRange,
                $"no size of whole {MinimumBytes}-byte blocks fits capacity_range [{required}, {limit}]");
        }
        if (size > MaximumBytes)
        {
            throw new RpcException(StatusCode.OutOfRange, $"{size} bytes exceeds the largest volume, {MaximumBytes} bytes");
        }
        return size;
    }

    /// <summary>The size for a volume made from a source of <paramref name="sourceBytes"/>: the
    /// source's size when no range is given; a range that cannot hold the source is OUT_OF_RANGE.</summary>
    public static long SizeFor(CapacityRange? range, long sourceBytes)
    {
        var required = range?.RequiredBytes ?? 0;
        var limit = range?.LimitBytes ?? 0;
        if ((required > 0 && required < sourceBytes) || (limit > 0 && limit < sourceBytes))
        {
            throw new RpcException(StatusCode.OutOfRange,
                $"capacity_range [{required}, {limit}] is smaller than the source's {sourceBytes} bytes");
        }
        return required == 0 ? sourceBytes : SizeFor(range);
    }

    /// <summary>Whether an existing volume of <paramref name="size"/> satisfies the range.</summary>
    public static bool Fits(long size, CapacityRange? range) =>
        size >= (range?.RequiredBytes ?? 0) && (range is null || range.LimitBytes == 0 || size <= range.LimitBytes);

    private static long RoundUp(long bytes) =>
        bytes > MaximumBytes ? bytes : (bytes + MinimumBytes - 1) / MinimumBytes * MinimumBytes;
}
