using System.Globalization;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>What the host holds for a workspace, read from /proc and /sys: what a test checks is
/// gone after detaching, so that nothing it made leaks. Only looks; never changes anything.</summary>
public static class HostInspection
{
    /// <summary>Loop devices bound to a file under <paramref name="directory"/>, as "loopN → file".</summary>
    public static List<string> LoopDevicesUnder(string directory) =>
        Directory.EnumerateDirectories("/sys/block", "loop*")
            .Select(d => (Device: Path.GetFileName(d), File: ReadOrNull(Path.Combine(d, "loop", "backing_file"))))
            .Where(l => l.File?.StartsWith(directory + "/", StringComparison.Ordinal) == true)
            .Select(l => $"{l.Device} → {l.File}")
            .ToList();

    /// <summary>Mount points at or under <paramref name="directory"/>, as "point (fstype)".</summary>
    public static List<string> MountsUnder(string directory) =>
        File.ReadLines("/proc/self/mountinfo")
            .Select(line => line.Split(' '))
            .Where(f => f[4] == directory || f[4].StartsWith(directory + "/", StringComparison.Ordinal))
            .Select(f => $"{f[4]} ({f[Array.IndexOf(f, "-") + 1]})")
            .ToList();

    /// <summary>What each open descriptor of <paramref name="pid"/> refers to (readlink of /proc/pid/fd/N).</summary>
    public static List<string> OpenDescriptors(int pid) =>
        Directory.EnumerateFiles($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/fd")
            .Select(fd => new FileInfo(fd).LinkTarget ?? "?")
            .ToList();

    /// <summary>Processes whose parent is <paramref name="pid"/>, as "pid comm".</summary>
    public static List<string> Children(int pid) =>
        Directory.EnumerateDirectories("/proc")
            .Where(d => int.TryParse(Path.GetFileName(d), out _))
            .Select(d => ReadOrNull(Path.Combine(d, "stat")))
            .OfType<string>()
            .Select(stat => (Stat: stat, Fields: stat[(stat.LastIndexOf(')') + 2)..].Split(' ')))
            .Where(s => s.Fields[1] == pid.ToString(CultureInfo.InvariantCulture))
            .Select(s => s.Stat[..(s.Stat.LastIndexOf(')') + 1)])
            .ToList();

    private static string? ReadOrNull(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }
}
