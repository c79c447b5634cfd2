using System.Diagnostics;
using System.Globalization;
using CsiDriver.ConformanceTests.Infrastructure;

namespace CsiDriver.Benchmarks;

/// <summary>
/// The node data path: fio with direct I/O through the block device a pod gets, side by side in
/// one run, on paths over the same disk:
/// <list type="bullet">
/// <item>ours: a block volume staged and published by a real csidriver — a loop device (direct
/// I/O) on the file csidriver serves from the engine over FUSE;</item>
/// <item>engine over NBD: another volume of the same csidriver through fio's nbd engine, no
/// kernel in between — what the engine itself serves, so the FUSE hop's own cost shows;</item>
/// <item>nbdfuse: the node path before issue 15, kept here only as this comparison — nbdfuse
/// exposing a volume's NBD export as a file, a loop device on it as that path attached it
/// (without direct I/O, so its reads may come from the page cache of nbdfuse's file); and the
/// same with that page cache dropped before each job;</item>
/// <item>loop: a loop device with direct I/O on a plain file, the kernel-only limit (without
/// direct I/O it would measure the page cache, not the disk).</item>
/// </list>
/// Workloads: 1 MiB sequential writes (which also fill the targets), then 4 KiB random writes and
/// random reads at queue depth 16. The machine is shared and noisy, so each workload alternates
/// the paths for a few short rounds and compares medians.
/// <para>For information beside the 1 MiB ratios, the limit the disk sets: the loop reference
/// never flushes (fio asks for no sync), so it measures the disk's cache; ours makes its journal
/// durable as its write overlay fills (fdatasync every few MiB) and then writes each byte again
/// into a data file. Each round therefore also measures the disk's durable sequential write
/// (buffered 1 MiB writes with fdatasync every overlay batch, as the journal's background sync
/// does) on a plain file, and counts what the disk itself wrote while ours and that ran.</para>
/// </summary>
public sealed class NodeFioBenchmark : IBenchmark
{
    private const long TargetSize = 512L * 1024 * 1024;
    private const int Rounds = 3;
    private static readonly TimeSpan RunTime = TimeSpan.FromSeconds(3);

    /// <summary>MiB between the durable write's fdatasyncs: the write overlay's background sync
    /// batch (an eighth of its default 32 MiB).</summary>
    private const int SyncBatchMiB = 4;

    private static readonly Workload[] Workloads =
    [
        new("1 MiB sequential write", "write", "1m", 4, DiskBound: true),
        new("4 KiB random write QD16", "randwrite", "4k", 16, DiskBound: false),
        new("4 KiB random read QD16", "randread", "4k", 16, DiskBound: false),
    ];

    public string Name => "node-fio";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        using var workspace = DriverWorkspace.Create();
        await using var driver = await DriverProcess.StartAsync(workspace);
        var capability = Volumes.Block();
        var ours = (await driver.Csi.CreateAsync("node-fio-fuse", capability, TargetSize)).VolumeId;
        var direct = (await driver.Csi.CreateAsync("node-fio-nbd", capability, TargetSize)).VolumeId;
        var viaNbdfuse = (await driver.Csi.CreateAsync("node-fio-nbdfuse", capability, TargetSize)).VolumeId;
        var socket = Path.Combine(workspace.DataDirectory, "nbd.sock");
        await using var nbdfuse = await NbdfuseAttachment.StartAsync(
            Path.Combine(context.WorkDirectory, "nbdfuse"), $"nbd+unix:///{viaNbdfuse}?socket={socket}", cancellationToken);
        await using var plain = await PlainLoopDevice.CreateAsync(Path.Combine(context.WorkDirectory, "plain.img"), TargetSize, cancellationToken);
        var disk = DiskWrites.Holding(workspace.DataDirectory);
        var settled = new SettledDisk(disk);
        var durableWrite = FioTarget.File(Path.Combine(context.WorkDirectory, "durable.img"));
        try
        {
            await driver.Csi.StageAsync(workspace, ours, capability);
            await driver.Csi.PublishOnNodeAsync(workspace, ours, capability);
            DataPath[] paths =
            [
                new("ours", FioTarget.Device(NodeSteps.TargetPath(workspace, ours)), null),
                new("engine over NBD", FioTarget.Nbd($"nbd+unix:///{direct}?socket={socket}"), null),
                new("nbdfuse", FioTarget.Device(nbdfuse.Device), null),
                new("nbdfuse, cache dropped", FioTarget.Device(nbdfuse.Device), nbdfuse.DropCacheAsync),
                new("direct-I/O loop", FioTarget.Device(plain.Device), null),
            ];
            context.Progress.WriteLine($"   ours {paths[0].Target.Name}; nbdfuse {nbdfuse.Device}; direct-I/O loop {plain.Device}; disk {disk.Device}");
            context.Progress.WriteLine($"   every job starts from a settled disk: {SettledDisk.Rule}");
            var figures = new List<BenchmarkFigure>();
            var previous = "creating the volumes";
            foreach (var workload in Workloads)
            {
                var rounds = paths.Select(_ => new List<double>()).ToArray();
                var (durable, oursPerByte, durablePerByte) = (new List<double>(), new List<double>(), new List<double>());
                for (var round = 0; round < Rounds; round++)
                {
                    for (var p = 0; p < paths.Length; p++)
                    {
                        await settled.SettleAsync(previous, cancellationToken);
                        if (paths[p].BeforeEachJob is { } prepare)
                        {
                            await prepare(cancellationToken);
                        }
                        var (value, diskPerByte) = await RunCountingDiskAsync(disk, paths[p].Target, workload, [], cancellationToken);
                        previous = paths[p].Title;
                        rounds[p].Add(value);
                        if (p == 0 && workload.DiskBound)
                        {
                            oursPerByte.Add(diskPerByte);
                        }
                    }
                    if (workload.DiskBound)
                    {
                        await settled.SettleAsync(previous, cancellationToken);
                        var (value, diskPerByte) = await RunCountingDiskAsync(disk, durableWrite, workload with { QueueDepth = 1 },
                            [$"--fdatasync={SyncBatchMiB}"], cancellationToken);
                        previous = "the durable write";
                        durable.Add(value);
                        durablePerByte.Add(diskPerByte);
                    }
                }
                var medians = rounds.Select(BenchmarkStatistics.Median).ToArray();
                var (fuse, engine, old, cold, loop) = (medians[0], medians[1], medians[2], medians[3], medians[4]);
                context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"   {workload.Title,-24} {string.Join("  ", paths.Select((p, i) => $"{p.Title} {medians[i]:0.###}"))} {workload.Unit}"));
                context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"   {"",-24} ours/loop {fuse / loop:0.00}  ours/nbdfuse {fuse / old:0.00} (cache dropped {fuse / cold:0.00})  ours/engine over NBD {fuse / engine:0.00}"));
                context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"   {"",-24} rounds in order: {string.Join("; ", paths.Select((p, i) => $"{p.Title} {string.Join(" ", rounds[i].Select(v => v.ToString("0.###", CultureInfo.InvariantCulture)))}"))}"));
                context.Progress.WriteLine($"   {"",-24} {settled.TakeSummary()}");
                figures.Add(new BenchmarkFigure($"{workload.Title}: ours / direct-I/O loop", fuse / loop, "ratio", BenchmarkGoal.AtLeast(0.6)));
                figures.Add(new BenchmarkFigure($"{workload.Title}: ours / nbdfuse", fuse / old, "ratio", BenchmarkGoal.AtLeast(2)));
                figures.Add(new BenchmarkFigure($"{workload.Title}: ours / nbdfuse, cache dropped", fuse / cold, "ratio"));
                figures.Add(new BenchmarkFigure($"{workload.Title}: ours / engine over NBD", fuse / engine, "ratio"));
                figures.AddRange(paths.Select((p, i) => new BenchmarkFigure($"{workload.Title}: {p.Title}", medians[i], workload.Unit)));
                if (workload.DiskBound)
                {
                    figures.AddRange(DiskLimit(context.Progress, workload, fuse, BenchmarkStatistics.Median(durable),
                        BenchmarkStatistics.Median(oursPerByte), BenchmarkStatistics.Median(durablePerByte)));
                }
            }
            return figures;
        }
        finally
        {
            await driver.Csi.CleanUpAsync(workspace, ours);
        }
    }

    /// <summary>One fio job of <paramref name="workload"/> (in its unit) and the bytes the disk
    /// wrote per byte fio wrote, both over the job's wall time: a job's own startup counts in
    /// neither, so a plain file shows a little under 1.</summary>
    private static async Task<(double Value, double DiskPerByte)> RunCountingDiskAsync(DiskWrites disk, FioTarget target, Workload workload,
        IReadOnlyList<string> extra, CancellationToken cancellationToken)
    {
        var before = disk.Bytes();
        var clock = Stopwatch.StartNew();
        var result = await FioJob.RunAsync(target, workload.Pattern, workload.BlockSize, workload.QueueDepth, TargetSize,
            RunTime, ["--ramp_time=1", .. extra], cancellationToken);
        var diskRate = (disk.Bytes() - before) / clock.Elapsed.TotalSeconds;
        var bytesPerOperation = workload.BlockSize == "1m" ? 1 << 20 : 4096;
        return (workload.Unit == "GB/s" ? result.Iops * bytesPerOperation / 1e9 : result.Iops, diskRate / (result.Iops * bytesPerOperation));
    }

    /// <summary>Prints and returns, for information, what the disk allows ours: its durable write
    /// rate, and ours against half of it, since ours writes every byte twice (journal, then data file).</summary>
    private static BenchmarkFigure[] DiskLimit(TextWriter progress, Workload workload, double ours, double durable, double oursPerByte, double durablePerByte)
    {
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   {"",-24} information: the disk's durable write (buffered 1 MiB, fdatasync every {SyncBatchMiB} MiB) {durable:0.###} GB/s; " +
            $"the disk wrote {oursPerByte:0.00} bytes per byte of ours (journal + data file), {durablePerByte:0.00} of that write"));
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   {"",-24} information: ours / half the disk's durable write {ours / (durable / 2):0.00} (2 writes per byte bound ours near {durable / 2:0.###} GB/s)"));
        return
        [
            new($"{workload.Title}: ours / half the disk's durable write", ours / (durable / 2), "ratio"),
            new($"{workload.Title}: disk's durable write", durable, "GB/s"),
            new($"{workload.Title}: disk bytes per byte, ours", oursPerByte, "ratio"),
            new($"{workload.Title}: disk bytes per byte, durable write", durablePerByte, "ratio"),
        ];
    }

    private sealed record DataPath(string Title, FioTarget Target, Func<CancellationToken, Task>? BeforeEachJob);

    /// <param name="DiskBound">Whether the disk's durable write is measured beside it.</param>
    private sealed record Workload(string Title, string Pattern, string BlockSize, int QueueDepth, bool DiskBound)
    {
        public string Unit => BlockSize == "1m" ? "GB/s" : "IOPS";
    }

    /// <summary>The node path before issue 15: nbdfuse serving an NBD export as a file in a FUSE
    /// mount, a loop device on that file (no direct I/O, as that path attached it).</summary>
    private sealed class NbdfuseAttachment : IAsyncDisposable
    {
        private readonly string _directory;
        private readonly Process _nbdfuse;

        private NbdfuseAttachment(string directory, Process nbdfuse, string device)
        {
            _directory = directory;
            _nbdfuse = nbdfuse;
            Device = device;
        }

        public string Device { get; }

        public static async Task<NbdfuseAttachment> StartAsync(string directory, string uri, CancellationToken cancellationToken)
        {
            Directory.CreateDirectory(directory);
            var info = new ProcessStartInfo("nbdfuse") { UseShellExecute = false, RedirectStandardError = true };
            info.ArgumentList.Add(directory);
            info.ArgumentList.Add(uri);
            var nbdfuse = Process.Start(info) ?? throw new InvalidOperationException("could not start nbdfuse; run `make test-deps`");
            var file = Path.Combine(directory, "nbd");
            for (var i = 0; i < 200 && !File.Exists(file) && !nbdfuse.HasExited; i++)
            {
                await Task.Delay(50, cancellationToken);
            }
            if (!File.Exists(file))
            {
                nbdfuse.Kill();
                throw new InvalidOperationException($"nbdfuse did not expose {uri}: {await nbdfuse.StandardError.ReadToEndAsync(cancellationToken)}");
            }
            return new NbdfuseAttachment(directory, nbdfuse, (await Tool.RunAsync("losetup", ["--find", "--show", file], cancellationToken)).Trim());
        }

        /// <summary>Drops the clean pages of nbdfuse's file from the page cache (dd's nocache with
        /// no data: posix_fadvise DONTNEED over the whole file).</summary>
        public Task DropCacheAsync(CancellationToken cancellationToken) =>
            Tool.RunAsync("dd", [$"if={Path.Combine(_directory, "nbd")}", "iflag=nocache", "count=0", "status=none"], cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await Tool.RunAsync("losetup", ["--detach", Device], CancellationToken.None);
            await Tool.RunAsync("fusermount3", ["-u", _directory], CancellationToken.None);
            if (!_nbdfuse.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                _nbdfuse.Kill();
            }
            _nbdfuse.Dispose();
        }
    }

    /// <summary>A loop device with direct I/O on a plain file: what the kernel alone can do.</summary>
    private sealed class PlainLoopDevice(string device) : IAsyncDisposable
    {
        public string Device { get; } = device;

        public static async Task<PlainLoopDevice> CreateAsync(string path, long size, CancellationToken cancellationToken)
        {
            await using (var file = File.Create(path))
            {
                file.SetLength(size);
            }
            return new PlainLoopDevice((await Tool.RunAsync("losetup", ["--find", "--show", "--direct-io=on", path], cancellationToken)).Trim());
        }

        public async ValueTask DisposeAsync() => await Tool.RunAsync("losetup", ["--detach", Device], CancellationToken.None);
    }

    private static class Tool
    {
        public static async Task<string> RunAsync(string file, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
        {
            var info = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in arguments)
            {
                info.ArgumentList.Add(argument);
            }
            using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
            var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var error = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            return process.ExitCode == 0
                ? await output
                : throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await error}");
        }
    }
}
