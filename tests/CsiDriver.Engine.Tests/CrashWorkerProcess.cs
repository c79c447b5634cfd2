using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace CsiDriver.Engine.Tests;

/// <summary>The crash workload running in a child process, killed with SIGKILL by the test.</summary>
internal sealed class CrashWorkerProcess : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = [];

    /// <summary>Starts the workload on <paramref name="dataDirectory"/> where
    /// <paramref name="model"/> says each stream stands.</summary>
    public CrashWorkerProcess(string dataDirectory, CrashWorkloadModel model)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { WorkerPath(), dataDirectory, Invariant(model.Seed) }.Concat(model.Applied.Select(Invariant)))
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

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The worker's build output next to this test assembly's: same configuration and
    /// target framework, found from the directory holding CsiDriver.sln.</summary>
    private static string WorkerPath()
    {
        var here = AppContext.BaseDirectory;
        var root = here;
        while (!File.Exists(Path.Combine(root, "CsiDriver.sln")))
        {
            root = Path.GetDirectoryName(root.TrimEnd(Path.DirectorySeparatorChar))
                ?? throw new InvalidOperationException("CsiDriver.sln not found above " + here);
        }
        var relative = Path.GetRelativePath(Path.Combine(root, "tests", "CsiDriver.Engine.Tests"), here);
        var path = Path.Combine(root, "tests", "CsiDriver.Engine.CrashWorker", relative, "CsiDriver.Engine.CrashWorker.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("crash worker not built", path);
    }
}
