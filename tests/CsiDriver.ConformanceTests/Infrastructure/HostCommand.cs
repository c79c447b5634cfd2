using System.Diagnostics;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>Runs a host tool (mount, umount) as a test's own step; a non-zero exit fails the test.</summary>
public static class HostCommand
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public static Task RunAsync(string tool, params string[] arguments) => RunAsync(DefaultTimeout, tool, arguments);

    public static async Task RunAsync(TimeSpan timeout, string tool, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(tool) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"{tool} did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            Assert.Fail($"`{tool} {string.Join(' ', arguments)}` still running after {timeout.TotalSeconds} s");
        }
        Assert.True(process.ExitCode == 0, $"`{tool} {string.Join(' ', arguments)}` exited with {process.ExitCode}: {await stderr}");
    }
}
