using System.Diagnostics;
using System.Security.Cryptography;

namespace CsiDriver.ConformanceTests.NodeRestart;

/// <summary>
/// A pod's writer: 64 KiB files written one after another into a directory, each fsynced, and
/// the checksum of every file whose fsync returned remembered — those must survive anything
/// short of a lost disk. Counts every failed write or fsync, and measures the longest stall:
/// the longest time between two fsyncs completing. Runs on a thread of its own (its I/O blocks
/// while csidriver restarts) and writes at most <see cref="MaxFiles"/> files.
/// </summary>
public sealed class FsyncedFileWriter
{
    public const int FileSize = 64 * 1024;
    public const int MaxFiles = 4000;

    private readonly string _directory;
    private readonly Dictionary<string, byte[]> _durable = new(StringComparer.Ordinal);
    private readonly List<string> _errors = [];
    private readonly Lock _lock = new();
    private readonly Thread _thread;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stop;
    private TimeSpan _longestStall;

    public FsyncedFileWriter(string directory)
    {
        _directory = directory;
        _thread = new Thread(Run) { IsBackground = true, Name = "fsynced-file-writer" };
        _thread.Start();
    }

    public int Durable
    {
        get
        {
            lock (_lock)
            {
                return _durable.Count;
            }
        }
    }

    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (_lock)
            {
                return _errors.ToList();
            }
        }
    }

    public TimeSpan LongestStall
    {
        get
        {
            lock (_lock)
            {
                return _longestStall;
            }
        }
    }

    /// <summary>Waits (bounded) until <paramref name="more"/> further files are durable.</summary>
    public async Task WaitForProgressAsync(int more, TimeSpan timeout)
    {
        var target = Durable + more;
        var deadline = DateTime.UtcNow + timeout;
        while (Durable < target && !_finished.Task.IsCompleted)
        {
            Assert.True(DateTime.UtcNow < deadline,
                $"the writer made no progress for {timeout.TotalSeconds} s ({Durable} files durable; errors: {string.Join("; ", Errors.Take(3))})");
            await Task.Delay(20);
        }
        Assert.True(Durable >= target, $"the writer stopped after {Durable} files (limit {MaxFiles})");
    }

    public async Task StopAsync(TimeSpan timeout)
    {
        _stop = true;
        await _finished.Task.WaitAsync(timeout);
    }

    /// <summary>Reads every durable file back from <paramref name="directory"/> (the same file
    /// system, mounted afresh) and returns those whose content differs or is missing.</summary>
    public List<string> Damaged(string directory)
    {
        lock (_lock)
        {
            return _durable
                .Where(file => !File.Exists(Path.Combine(directory, file.Key))
                    || !SHA256.HashData(File.ReadAllBytes(Path.Combine(directory, file.Key))).SequenceEqual(file.Value))
                .Select(file => file.Key)
                .ToList();
        }
    }

    private void Run()
    {
        var random = new Random(15);
        var data = new byte[FileSize];
        var sinceLast = Stopwatch.StartNew();
        for (var i = 0; i < MaxFiles && !_stop; i++)
        {
            random.NextBytes(data);
            var name = $"file-{i:D5}.bin";
            try
            {
                using (var file = new FileStream(Path.Combine(_directory, name), FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
                {
                    file.Write(data);
                    file.Flush(flushToDisk: true);
                }
                lock (_lock)
                {
                    _durable[name] = SHA256.HashData(data);
                    _longestStall = TimeSpan.FromTicks(Math.Max(_longestStall.Ticks, sinceLast.Elapsed.Ticks));
                }
                sinceLast.Restart();
            }
            catch (IOException e)
            {
                lock (_lock)
                {
                    _errors.Add($"{name}: {e.Message}");
                }
            }
        }
        _finished.TrySetResult();
    }
}
