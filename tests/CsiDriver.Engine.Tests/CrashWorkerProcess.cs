using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace CsiDriver.Engine.Tests;

/// <summary>The crash workload (or the shipping workload) running in a child process, killed
/// with SIGKILL by the test.</summary>
internal sealed class CrashWorkerProcess : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = [];

    /// <summary>Starts the worker with <paramref name="arguments"/> (see its Program.cs).</summary>
    public CrashWorkerProcess(params string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments.Prepend(WorkerPath()))
        {
            start.ArgumentList.Add(argument);
        }
        _process = Process.Start(start) ?? throw new InvalidOperationException("crash worker did not start");
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data != null)
            {
                _lines.Add(e.Data);
            }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data != null)
            {
                _lines.Add("ERR " + e.Data);
            }
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Every line the worker printed so far.</summary>
    public IReadOnlyList<string> Lines => _lines.ToArray();

    public void WaitUntilReady(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_lines.Any(l => l == "READY"))
            {
                return;
            }
            if (_process.HasExited)
            {
                break;
            }
            Thread.Sleep(10);
        }
        throw new InvalidOperationException("crash worker not ready: " + string.Join(" | ", _lines));
    }

    /// <summary>SIGKILL: no handler, no flush, no cleanup runs in the worker.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }
        _process.Dispose();
        _lines.Dispose();
    }

    /// <summary>Arguments that start the crash workload on <paramref name="dataDirectory"/> where
    /// <paramref name="model"/> says each stream stands.</summary>
    public static string[] CrashArguments(string dataDirectory, int seed, IEnumerable<long> applied) =>
        [dataDirectory, Invariant(seed), .. applied.Select(Invariant)];

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The worker's build output next to this test assembly's (which may be any test
    /// project's): same configuration and target framework, found from the directory holding CsiDriver.sln.</summary>
    private static string WorkerPath()
    {
        var here = AppContext.BaseDirectory;
        var root = here;
        while (!File.Exists(Path.Combine(root, "CsiDriver.sln")))
        {
            root = Path.GetDirectoryName(root.TrimEnd(Path.DirectorySeparatorChar))
                ?? throw new InvalidOperationException("CsiDriver.sln not found above " + here);
        }
        var fromProject = Path.GetRelativePath(Path.Combine(root, "tests"), here);
        var relative = fromProject[(fromProject.IndexOf(Path.DirectorySeparatorChar) + 1)..]; // bin/<configuration>/<framework>
        var path = Path.Combine(root, "tests", "CsiDriver.Engine.CrashWorker", relative, "CsiDriver.Engine.CrashWorker.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("crash worker not built", path);
    }
}
