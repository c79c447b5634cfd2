using System.Diagnostics;
using System.Globalization;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.ConformanceTests.Replication;
using CsiDriver.TestSupport;

namespace CsiDriver.Benchmarks;

/// <summary>
/// Catching up after an outage, each site pinned to its own CPUs: the link to the backup is cut
/// for <see cref="Outage"/> while fio writes 4 KiB random blocks at a steady rate at the main site
/// (the journal holds them, within its budget); then the link comes back and the time until the
/// backup has applied everything is measured (<see cref="ReplicationBenchSites.DrainAsync"/>).
/// Catch-up rate = payload written during the outage / that time (ship + apply; a backlog larger
/// than the volume goes as one coalesced cut of the chunks it changed). The limit for
/// making data durable on this machine is the disk's sequential fsync'd append rate, measured
/// first in the same run on the same file system (fio, 1 MiB writes, fdatasync after each): goal
/// catch-up ≥ 0.8 × that rate.
/// </summary>
public sealed class ReplicationCatchUpBenchmark : IBenchmark
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(60);
    private const string OutageWriteRate = "8m";
    private const long AppendBytes = 1L << 30;

    public string Name => "replication-catchup";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        var appendFile = Path.Combine(context.WorkDirectory, "append");
        var append = await FioJob.RunAsync(FioTarget.File(appendFile), "write", "1m", 1, AppendBytes, runtime: null, ["--fdatasync=1"], cancellationToken);
        File.Delete(appendFile);
        var appendRate = append.Iops * (1 << 20) / 1e6;
        context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   disk's sequential fsync'd append rate: {appendRate:0} MB/s (1 MiB writes, fdatasync after each)"));

        var cpus = SiteCpus.Split();
        await using var bench = await ReplicationBenchSites.StartAsync(context.Progress, cpus);
        var volume = await bench.CreateVolumeAsync("catchup", cancellationToken);
        await bench.ReplicateAsync(volume, "2Gi");

        bench.Sites.Link.Down();
        context.Progress.WriteLine($"   link down; writing 4 KiB random blocks at {OutageWriteRate}B/s for {Outage.TotalSeconds:0} s");
        var backlog = await FioJob.RunAsync(volume.Fio, "randwrite", "4k", 16, ReplicationBenchSites.VolumeBytes, Outage, [$"--rate={OutageWriteRate}"], cancellationToken);
        context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   {backlog.Bytes / 1e6:0} MB written during the outage; link up"));

        var before = bench.CpuSeconds();
        bench.Sites.Link.Up();
        var catchUp = await bench.DrainAsync(volume);
        var after = bench.CpuSeconds();
        var rate = backlog.Bytes / 1e6 / catchUp.TotalSeconds;
        var gigabytes = backlog.Bytes / 1e9;
        context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   caught up in {catchUp.TotalSeconds:0.00} s: {rate:0} MB/s shipped and applied ({rate / appendRate:0.00} × the append rate); " +
            $"{bench.Sites.Link.BytesForwarded / 1e6:0} MB crossed the link in all"));
        return
        [
            new BenchmarkFigure("catch-up / disk's fsync'd append rate", rate / appendRate, "ratio", BenchmarkGoal.AtLeast(0.8)),
            new BenchmarkFigure("catch-up after outage (ship + apply)", rate, "MB/s"),
            new BenchmarkFigure("disk's sequential fsync'd append rate", appendRate, "MB/s"),
            new BenchmarkFigure("main CPU per GB shipped in catch-up", (after.Main - before.Main) / gigabytes, "CPU s/GB"),
            new BenchmarkFigure("backup CPU per GB applied in catch-up", (after.Backup - before.Backup) / gigabytes, "CPU s/GB"),
            new BenchmarkFigure("catch-up time", catchUp.TotalSeconds, "s"),
            new BenchmarkFigure("backlog written during the outage", backlog.Bytes / 1e6, "MB"),
        ];
    }
}
