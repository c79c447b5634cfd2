using System.Diagnostics;
using System.Globalization;
using CsiDriver.Engine;
using CsiDriver.Engine.Nbd;
using Microsoft.Win32.SafeHandles;

namespace CsiDriver.Benchmarks;

/// <summary>
/// fio's nbd engine against our export of an engine volume and against `nbdkit file` serving a
/// plain file of the same size, side by side in one run: 1 MiB sequential writes (which also
/// fill the targets), 4 KiB random writes at queue depth 16, 4 KiB random reads at queue depth 16,
/// and 4 KiB writes each followed by a FLUSH (the FLUSH latency, as IOPS).
/// A third target, our server exporting a plain file with direct positional I/O, separates the
/// NBD server's cost from the engine's. The machine is shared and noisy, so each workload
/// alternates the targets for a few short rounds and compares medians.
/// </summary>
public sealed class NbdFioBenchmark : IBenchmark
{
    private const long TargetSize = 512L * 1024 * 1024;
    private const string VolumeExport = "bench";
    private const string FileExport = "plain";
    private const int Rounds = 3;
    private static readonly TimeSpan RunTime = TimeSpan.FromSeconds(3);

    private static readonly Workload[] Workloads =
    [
        new("1 MiB sequential write", "write", "1m", 4, Goal: null),
        new("4 KiB random write QD16", "randwrite", "4k", 16, Goal: BenchmarkGoal.AtLeast(0.8)),
        new("4 KiB random read QD16", "randread", "4k", 16, Goal: BenchmarkGoal.Above(1.0)),
        // A FLUSH after every write (fio's fsync): its IOPS is the inverse of the FLUSH latency.
        new("4 KiB write+FLUSH QD1", "randwrite", "4k", 1, Goal: null, ["--fsync=1"]),
    ];

    public string Name => "nbd-fio";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        var ourSocket = Path.Combine(context.WorkDirectory, "ours.sock");
        var nbdkitSocket = Path.Combine(context.WorkDirectory, "nbdkit.sock");
        var nbdkitFile = CreatePlainFile(Path.Combine(context.WorkDirectory, "nbdkit.img"));
        using var engine = StorageEngine.Open(Path.Combine(context.WorkDirectory, "data"));
        engine.CreateVolume(VolumeExport, TargetSize);
        using var plainDevice = new PlainFileDevice(FileExport, CreatePlainFile(Path.Combine(context.WorkDirectory, "ours.img")));
        await using var server = new NbdServer(new NbdServerOptions
        {
            Endpoints = [NbdEndpoint.Unix(ourSocket)],
            Exports = new NbdCompositeExportCatalog(new VolumeExportCatalog(engine), new PlainFileCatalog(plainDevice)),
        });
        await server.StartAsync(cancellationToken);
        using var nbdkit = StartNbdkit(nbdkitSocket, nbdkitFile);
        try
        {
            await WaitForSocketAsync(nbdkitSocket, cancellationToken);
            string[] targets =
            [
                $"nbd+unix:///{VolumeExport}?socket={ourSocket}",
                $"nbd+unix:///{FileExport}?socket={ourSocket}",
                $"nbd+unix:///?socket={nbdkitSocket}",
            ];
            var figures = new List<BenchmarkFigure>();
            foreach (var workload in Workloads)
            {
                var rounds = targets.Select(_ => new List<double>()).ToArray();
                for (var round = 0; round < Rounds; round++)
                {
                    for (var t = 0; t < targets.Length; t++)
                    {
                        // Each job starts with no dirty pages left by the one before, so no target
                        // pays for another's writeback.
                        await SyncFileSystemsAsync(cancellationToken);
                        rounds[t].Add(await RunFioAsync(workload, targets[t], cancellationToken));
                    }
                }
                var (engineIops, serverIops, nbdkitIops) = (Median(rounds[0]), Median(rounds[1]), Median(rounds[2]));
                context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"   {workload.Title,-24} engine {engineIops,8:0}  server-only {serverIops,8:0}  nbdkit {nbdkitIops,8:0} IOPS" +
                    $"   ratio {engineIops / nbdkitIops:0.00} (server only {serverIops / nbdkitIops:0.00})"));
                figures.Add(new BenchmarkFigure($"{workload.Title}: ours / nbdkit", engineIops / nbdkitIops, "ratio", workload.Goal));
                figures.Add(new BenchmarkFigure($"{workload.Title}: server only / nbdkit", serverIops / nbdkitIops, "ratio"));
                figures.Add(new BenchmarkFigure($"{workload.Title}: ours", engineIops, "IOPS"));
                figures.Add(new BenchmarkFigure($"{workload.Title}: nbdkit", nbdkitIops, "IOPS"));
            }
            return figures;
        }
        finally
        {
            nbdkit.Kill(entireProcessTree: true);
            await nbdkit.WaitForExitAsync(CancellationToken.None);
        }
    }

    private sealed record Workload(string Title, string Pattern, string BlockSize, int QueueDepth, BenchmarkGoal? Goal, string[]? Extra = null);

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static string CreatePlainFile(string path)
    {
        using var file = File.Create(path);
        file.SetLength(TargetSize);
        return path;
    }

    private static Process StartNbdkit(string socket, string file)
    {
        // -f: stay in the foreground so the benchmark owns the process; plain file plugin.
        var info = new ProcessStartInfo("nbdkit") { UseShellExecute = false, RedirectStandardError = true };
        foreach (var argument in new[] { "-f", "-U", socket, "file", file })
        {
            info.ArgumentList.Add(argument);
        }
        return Process.Start(info) ?? throw new InvalidOperationException("could not start nbdkit; run `make test-deps`");
    }

    private static async Task WaitForSocketAsync(string path, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 100 && !File.Exists(path); i++)
        {
            await Task.Delay(50, cancellationToken);
        }
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"nbdkit did not create {path}");
        }
    }

    private static async Task SyncFileSystemsAsync(CancellationToken cancellationToken)
    {
        using var sync = Process.Start(new ProcessStartInfo("sync") { UseShellExecute = false })
            ?? throw new InvalidOperationException("could not start sync");
        await sync.WaitForExitAsync(cancellationToken);
    }

    /// <summary>Runs one fio job and returns its IOPS (reads or writes, whichever the job does).</summary>
    private static async Task<double> RunFioAsync(Workload workload, string uri, CancellationToken cancellationToken) =>
        (await FioJob.RunAsync(uri, workload.Pattern, workload.BlockSize, workload.QueueDepth, TargetSize, RunTime, ["--ramp_time=1", .. workload.Extra ?? []], cancellationToken)).Iops;

    /// <summary>A plain file behind our NBD server, with the same direct positional I/O
    /// `nbdkit file` does: what the server costs without the engine.</summary>
    private sealed class PlainFileDevice(string name, string path) : IBlockDevice, IDisposable
    {
        private readonly SafeFileHandle _handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);

        public string Name => name;

        public long Size => TargetSize;

        public bool IsReadOnly => false;

        public ValueTask ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            RandomAccess.Read(_handle, buffer.Span, offset);
            return ValueTask.CompletedTask;
        }

        public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, bool fua, CancellationToken cancellationToken = default)
        {
            RandomAccess.Write(_handle, data.Span, offset);
            return fua ? FlushAsync(cancellationToken) : ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken = default)
        {
            RandomAccess.FlushToDisk(_handle);
            return ValueTask.CompletedTask;
        }

        public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default) =>
            WriteZeroesAsync(offset, length, fua: false, cancellationToken);

        public ValueTask WriteZeroesAsync(long offset, long length, bool fua, CancellationToken cancellationToken = default)
        {
            var zeroes = new byte[Math.Min(length, 1 << 20)];
            for (long done = 0; done < length; done += zeroes.Length)
            {
                RandomAccess.Write(_handle, zeroes.AsSpan(0, (int)Math.Min(zeroes.Length, length - done)), offset + done);
            }
            return fua ? FlushAsync(cancellationToken) : ValueTask.CompletedTask;
        }

        public void Dispose() => _handle.Dispose();
    }

    private sealed class PlainFileCatalog(PlainFileDevice device) : INbdExportCatalog
    {
        public IEnumerable<NbdExportInfo> List() => [new(device.Name, device.Size, IsReadOnly: false)];

        public IBlockDevice? Open(string name) => name == device.Name ? device : null;
    }
}
