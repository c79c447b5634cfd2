using System.Diagnostics;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>Every line a child process writes to stdout and stderr, collected as it arrives so
/// tests can wait for a line and failures can show what the process said.</summary>
public sealed class ProcessOutput
{
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly object _gate = new();

    public IReadOnlyList<string> StandardOutput
    {
        get
        {
            lock (_gate)
            {
                return _stdout.ToArray();
            }
        }
    }

    public IReadOnlyList<string> StandardError
    {
        get
        {
            lock (_gate)
            {
                return _stderr.ToArray();
            }
        }
    }

    /// <summary>Both streams, for failure messages and for "never appears" checks.</summary>
    public string AllText
    {
        get
        {
            lock (_gate)
            {
                return string.Join('\n', _stdout) + "\n--- stderr ---\n" + string.Join('\n', _stderr);
            }
        }
    }

    public void Attach(Process process)
    {
        process.OutputDataReceived += (_, e) => Append(_stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(_stderr, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Waits (bounded) until a stdout line matches; returns it, or fails the test
    /// showing everything the process wrote.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var line = StandardOutput.FirstOrDefault(match);
            if (line is not null)
            {
                return line;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"no log line {what} within the time limit; output:\n{AllText}");
            }
            await Task.Delay(25);
        }
    }

    private void Append(List<string> lines, string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_gate)
        {
            lines.Add(line);
        }
    }
}
