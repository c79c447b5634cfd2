using System.Diagnostics;
using System.Text;

namespace CsiDriver.Engine.Tests.Nbd;

/// <summary>Runs the Debian tools the interop tests talk to. A missing tool fails the test with
/// the command that installs it; a tool that overruns its time is killed and fails the test.</summary>
internal static class ExternalTool
{
    private static readonly string[] SearchPath =
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Concat(["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
        .Distinct()
        .ToArray();

    public static string Require(string name) =>
        SearchPath.Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists)
        ?? throw new Xunit.Sdk.XunitException($"'{name}' is not installed; run `make test-deps` (tests/scripts/install-deps.sh)");

    public static async Task<string> RunAsync(string name, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var result = await TryRunAsync(name, arguments, timeout);
        if (result.ExitCode != 0)
        {
            throw new Xunit.Sdk.XunitException(
                $"{name} {string.Join(' ', arguments)} exited with {result.ExitCode}\nstdout: {result.Output}\nstderr: {result.Error}");
        }
        return result.Output;
    }

    public static async Task<(int ExitCode, string Output, string Error)> TryRunAsync(
        string name, IEnumerable<string> arguments, TimeSpan timeout)
    {
        using var process = Start(name, arguments);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"{name} {string.Join(' ', arguments)} did not finish within {timeout}; stderr: {await error}");
        }
        return (process.ExitCode, await output, await error);
    }

    /// <summary>Starts a long-running tool (a FUSE daemon, a reference server); the caller stops it.</summary>
    public static Process Start(string name, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(Require(name))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        return Process.Start(info) ?? throw new InvalidOperationException($"could not start {name}");
    }
}
