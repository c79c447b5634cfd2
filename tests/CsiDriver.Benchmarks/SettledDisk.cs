using System.Diagnostics;
using System.Globalization;
using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.Benchmarks;

/// <summary>
/// Brings the disk to rest before a job, the same way for every path, so no job pays for the
/// writeback of the one before. A plain <c>sync</c> is not enough: it writes back what is dirty
/// when it runs, but an engine still holding journaled updates (its write overlay) applies them
/// and writes them back after it returns, and ours writes every byte twice, so after a 1 MiB
/// fill it carried more of that into the next job than the direct-I/O loop did (4 KiB rounds
/// measured 25–26k IOPS right after a fill against 31–32k later on the same volume). So: sync,
/// then watch what the disk writes, and sync again until it writes less than
/// <see cref="QuietBytes"/> in one <see cref="Window"/>.
/// </summary>
public sealed class SettledDisk(DiskWrites disk)
{
    /// <summary>What the disk may still write in a window and count as at rest: far below any
    /// writeback (hundreds of MB/s here), above the odd metadata write of an idle engine.</summary>
    private const long QuietBytes = 1 << 20;

    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(500);

    /// <summary>Past this the job starts anyway (another process may keep the disk busy), and the
    /// count of unsettled jobs says so.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly List<double> _waits = [];

    /// <summary>What the disk wrote while settling, by the job it followed: what each job left
    /// behind, plus whatever another process wrote meanwhile (the disk is the machine's).</summary>
    private readonly OrderedDictionary<string, long> _carried = [];
    private int _unsettled;

    public static string Rule { get; } = string.Create(CultureInfo.InvariantCulture,
        $"sync, then until the disk writes under {QuietBytes >> 20} MiB in {Window.TotalMilliseconds:0} ms (at most {Patience.TotalSeconds:0} s)");

    /// <param name="after">What ran last: what the disk writes now is put down to it.</param>
    public async Task SettleAsync(string after, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var start = disk.Bytes();
        while (true)
        {
            await HostCommand.RunAsync("sync");
            var before = disk.Bytes();
            await Task.Delay(Window, cancellationToken);
            if (disk.Bytes() - before < QuietBytes)
            {
                break;
            }
            if (clock.Elapsed > Patience)
            {
                _unsettled++;
                break;
            }
        }
        _waits.Add(clock.Elapsed.TotalSeconds);
        _carried[after] = _carried.GetValueOrDefault(after) + disk.Bytes() - start;
    }

    /// <summary>What settling took since the last call, for the progress output; then starts over.</summary>
    public string TakeSummary()
    {
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"settled before each of {_waits.Count} jobs: waited median {BenchmarkStatistics.Median(_waits):0.0} s, " +
            $"longest {_waits.DefaultIfEmpty().Max():0.0} s; {_unsettled} started unsettled; the disk wrote meanwhile, after " +
            $"{string.Join(", ", _carried.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Key} {c.Value / 1e6:0} MB")))}");
        _waits.Clear();
        _carried.Clear();
        _unsettled = 0;
        return summary;
    }
}
