using System.Diagnostics;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>Runs the csidriver executable (or another published one) with given arguments, output captured.</summary>
public static class DriverCommand
{
    /// <summary>Starts csidriver (or <paramref name="binary"/>); a <paramref name="launcher"/>
    /// (e.g. nsenter into a simulated host's network namespace) runs it in turn, with the same
    /// process id.</summary>
    public static Process Start(IReadOnlyList<string> arguments, ProcessOutput output, PublishedBinary? binary = null, IReadOnlyList<string>? launcher = null)
    {
        IReadOnlyList<string> command = [.. launcher ?? [], (binary ?? PublishedBinary.Driver).RequirePath(), .. arguments];
        var startInfo = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in command.Skip(1))
        {
            startInfo.ArgumentList.Add(argument);
        }
        var process = Process.Start(startInfo) ?? throw new InvalidOperationException("csidriver did not start");
        output.Attach(process);
        return process;
    }

    /// <summary>Runs a command that is expected to end by itself (help, refused start) and
    /// returns its exit code; fails the test if it is still running after the time limit.</summary>
    public static async Task<(int ExitCode, ProcessOutput Output)> RunToExitAsync(IReadOnlyList<string> arguments, TimeSpan timeout, PublishedBinary? binary = null)
    {
        var output = new ProcessOutput();
        using var process = Start(arguments, output, binary);
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"`{Path.GetFileName(process.StartInfo.FileName)} {string.Join(' ', arguments)}` still running after {timeout.TotalSeconds} s; output:\n{output.AllText}");
        }
        // WaitForExit without a timeout also drains the redirected streams.
        await process.WaitForExitAsync();
        return (process.ExitCode, output);
    }
}
