using System.Diagnostics;
using System.Text.Json;

namespace CsiDriver.Benchmarks;

/// <summary>What one fio job did: operations per second and payload bytes moved.</summary>
public sealed record FioResult(double Iops, long Bytes);

/// <summary>What fio works on, as the options that name it.</summary>
public sealed record FioTarget(string Name, IReadOnlyList<string> Options)
{
    /// <summary>What runs fio (taskset onto the main site's CPUs); empty: fio directly.</summary>
    public IReadOnlyList<string> Launcher { get; init; } = [];

    /// <summary>An NBD export, through fio's nbd engine.</summary>
    public static FioTarget Nbd(string uri) => new(uri, ["--ioengine=nbd", $"--uri={uri}"]);

    /// <summary>A plain file, written with plain write(2) calls (fdatasync after each if asked).</summary>
    public static FioTarget File(string path) => new(path, ["--ioengine=psync", $"--filename={path}"]);

    /// <summary>A block device, with direct I/O (no page cache) through Linux AIO.</summary>
    public static FioTarget Device(string path) => new(path, ["--ioengine=libaio", "--direct=1", $"--filename={path}"]);
}

/// <summary>One fio job against an NBD export or a block device, its JSON report parsed.
/// Bounded: a job still running well past its expected length is killed.</summary>
public static class FioJob
{
    public static Task<FioResult> RunAsync(string uri, string pattern, string blockSize, int queueDepth, long size,
        TimeSpan? runtime, IReadOnlyList<string> extra, CancellationToken cancellationToken) =>
        RunAsync(FioTarget.Nbd(uri), pattern, blockSize, queueDepth, size, runtime, extra, cancellationToken);

    /// <param name="pattern">fio's rw: write, randwrite, randread, ...</param>
    /// <param name="runtime">Time-based run of this length; null: one pass over <paramref name="size"/>.</param>
    /// <param name="extra">More fio options (rate limits, say).</param>
    public static async Task<FioResult> RunAsync(FioTarget target, string pattern, string blockSize, int queueDepth, long size,
        TimeSpan? runtime, IReadOnlyList<string> extra, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> command = [.. target.Launcher, "fio"];
        var info = new ProcessStartInfo(command[0]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        List<string> arguments =
        [
            .. command.Skip(1), "--name=bench", .. target.Options, $"--rw={pattern}", $"--bs={blockSize}",
            $"--iodepth={queueDepth}", $"--size={size}", "--output-format=json", .. extra,
        ];
        if (runtime is { } length)
        {
            arguments.AddRange(["--time_based", $"--runtime={(int)Math.Ceiling(length.TotalSeconds)}"]);
        }
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var fio = Process.Start(info) ?? throw new InvalidOperationException("could not start fio; run `make test-deps`");
        var output = fio.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = fio.StandardError.ReadToEndAsync(cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter((runtime ?? TimeSpan.FromSeconds(60)) * 3 + TimeSpan.FromSeconds(30));
        try
        {
            await fio.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            fio.Kill(entireProcessTree: true);
            throw;
        }
        if (fio.ExitCode != 0)
        {
            throw new InvalidOperationException($"fio against {target.Name} exited with {fio.ExitCode}: {await error}");
        }
        var json = await output;
        using var report = JsonDocument.Parse(json[json.IndexOf('{')..]);
        var job = report.RootElement.GetProperty("jobs")[0];
        var direction = job.GetProperty(pattern.Contains("read", StringComparison.Ordinal) ? "read" : "write");
        return new FioResult(direction.GetProperty("iops").GetDouble(), direction.GetProperty("io_bytes").GetInt64());
    }
}
