using System.Globalization;

namespace CsiDriver.Node;

/// <summary>The capabilities this process runs with (CapEff in /proc/self/status), for saying why
/// the kernel refused something.</summary>
public static class ProcessCapabilities
{
    private const int SysResource = 24;

    /// <summary>CAP_SYS_RESOURCE: needed to grow a mounted ext4 (EXT4_IOC_RESIZE_FS).</summary>
    public static bool HasSysResource() => Has(SysResource);

    private static bool Has(int capability)
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
        return line is not null
            && ulong.TryParse(line["CapEff:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var effective)
            && (effective & (1UL << capability)) != 0;
    }
}
