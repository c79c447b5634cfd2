using System.Diagnostics;

namespace CsiDriver.Node;

/// <summary>A standard tool (mkfs, losetup, blkid, resize2fs…) that failed; the message carries
/// its exit code and what it printed on stderr.</summary>
public sealed class ExternalCommandException(string command, int exitCode, string stderr)
    : Exception($"{command} exited with {exitCode}: {stderr.Trim()}")
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>Runs the standard node tools, bounded in time, capturing their output.</summary>
public static class ExternalCommand
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs the tool and returns its stdout; a non-zero exit throws.</summary>
    public static async Task<string> RunAsync(string file, IReadOnlyList<string> arguments, CancellationToken cancellationToken = default)
    {
        var result = await TryRunAsync(file, arguments, cancellationToken);
        return result.ExitCode == 0
            ? result.Stdout
            : throw new ExternalCommandException($"{file} {string.Join(' ', arguments)}", result.ExitCode, result.Stderr);
    }

    public static async Task<Result> TryRunAsync(string file, IReadOnlyList<string> arguments, CancellationToken cancellationToken = default)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(DefaultTimeout);
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish within {DefaultTimeout}");
        }
        return new Result(process.ExitCode, await stdout, await stderr);
    }
}
