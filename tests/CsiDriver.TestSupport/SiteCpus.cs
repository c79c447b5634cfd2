using System.Diagnostics;
using System.Globalization;

namespace CsiDriver.TestSupport;

/// <summary>
/// The two sites' CPU sets, as two machines would have them: the online CPUs split in two
/// halves, the main site (with its writers: fio, the demo's shop, and the process that drives
/// them) on the first, the backup site on the second. Two sites never share a machine in
/// reality; sharing CPUs makes the backup's apply compete with the main's writers, which is a
/// cost of the test bed, not of replication.
/// </summary>
public sealed record SiteCpus(string Main, string Backup)
{
    /// <summary>The split, or null on a machine with fewer than two online CPUs.</summary>
    public static SiteCpus? Split()
    {
        var cpus = Online();
        if (cpus.Count < 2)
        {
            return null;
        }
        var half = cpus.Count / 2;
        return new SiteCpus(string.Join(',', cpus.Take(half)), string.Join(',', cpus.Skip(half)));
    }

    /// <summary>The launcher prefix that runs a command on <paramref name="cpus"/> (taskset execs
    /// it: same process id).</summary>
    public static IReadOnlyList<string> Pin(string cpus) => ["taskset", "-c", cpus];

    /// <summary>Moves every thread of this process onto <paramref name="cpus"/> (threads made
    /// later inherit it from the thread that makes them).</summary>
    public static void PinThisProcess(string cpus) => SetThisProcess(cpus);

    /// <summary>Back onto every online CPU.</summary>
    public static void UnpinThisProcess() => SetThisProcess(string.Join(',', Online()));

    private static void SetThisProcess(string cpus)
    {
        var info = new ProcessStartInfo("taskset") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "--all-tasks", "--pid", "--cpu-list", cpus, Environment.ProcessId.ToString(CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(argument);
        }
        using var taskset = Process.Start(info) ?? throw new InvalidOperationException("taskset did not start");
        var error = taskset.StandardError.ReadToEndAsync();
        taskset.StandardOutput.ReadToEnd();
        taskset.WaitForExit();
        if (taskset.ExitCode != 0)
        {
            throw new InvalidOperationException($"taskset --cpu-list {cpus} on this process exited with {taskset.ExitCode}: {error.Result}");
        }
    }

    public override string ToString() => $"main site on CPU {Main}, backup site on CPU {Backup}";

    /// <summary>CPU numbers from /sys/devices/system/cpu/online ("0-3,6").</summary>
    private static List<int> Online()
    {
        var cpus = new List<int>();
        foreach (var part in File.ReadAllText("/sys/devices/system/cpu/online").Trim().Split(','))
        {
            var bounds = part.Split('-');
            var first = int.Parse(bounds[0], CultureInfo.InvariantCulture);
            var last = bounds.Length > 1 ? int.Parse(bounds[1], CultureInfo.InvariantCulture) : first;
            for (var cpu = first; cpu <= last; cpu++)
            {
                cpus.Add(cpu);
            }
        }
        return cpus;
    }
}
