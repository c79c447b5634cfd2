using System.Globalization;

namespace CsiDriver.Benchmarks;

/// <summary>CPU time (user + system, all threads) a process has used so far, from
/// /proc/PID/stat; differences of two readings give the CPU a phase of a benchmark cost.</summary>
public static class ProcessCpuTime
{
    /// <summary>The kernel reports utime and stime in USER_HZ ticks, 100 per second on Linux.</summary>
    private const double TicksPerSecond = 100;

    public static double Seconds(int processId)
    {
        var stat = File.ReadAllText($"/proc/{processId}/stat");
        // Fields after the command name (which may hold spaces) start at state, field 3; utime and
        // stime are fields 14 and 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }
}
