using System.Diagnostics;
using System.Globalization;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.ConformanceTests.Replication;
using CsiDriver.TestSupport;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.Benchmarks;

/// <summary>
/// Catching up after an outage: the link to the backup is cut for <see cref="Outage"/> while fio
/// writes 4 KiB random blocks at a steady rate at the main site (the journal holds them, within
/// its budget); then the link comes back and the time until the backup has applied everything
/// is measured. Catch-up rate = payload written during the outage / that time (ship + apply,
/// goal ≥ 500 MB/s). A marker write after the load tells when "everything" is reached: its
/// main-site time is after every outage write, so the backup's last sync time passing it means
/// the backlog is applied.
/// </summary>
public sealed class ReplicationCatchUpBenchmark : IBenchmark
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(60);
    private const string OutageWriteRate = "8m";
    private static readonly TimeSpan CatchUpTimeout = TimeSpan.FromMinutes(5);

    public string Name => "replication-catchup";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        await using var bench = await ReplicationBenchSites.StartAsync(context.Progress);
        var volume = await bench.CreateVolumeAsync("catchup", cancellationToken);
        await bench.ReplicateAsync(volume, "2Gi");

        bench.Sites.Link.Down();
        context.Progress.WriteLine($"   link down; writing 4 KiB random blocks at {OutageWriteRate}B/s for {Outage.TotalSeconds:0} s");
        var backlog = await FioJob.RunAsync(volume.Uri, "randwrite", "4k", 16, ReplicationBenchSites.VolumeBytes, Outage, [$"--rate={OutageWriteRate}"], cancellationToken);
        var marker = await WriteMarkerAsync(bench.Sites.Main.NbdSocket, volume.VolumeId);
        context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   {backlog.Bytes / 1e6:0} MB written during the outage; link up"));

        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var applyRates = Task.Run(() => SampleApplyRateAsync(bench.Sites.Backup, volume.GroupId, sampling.Token), CancellationToken.None);
        var clock = Stopwatch.StartNew();
        bench.Sites.Link.Up();
        await bench.Sites.Backup.Addons.WaitForReplicationAsync(volume.GroupId,
            info => info.LastSyncTime is not null && info.LastSyncTime.ToDateTimeOffset() >= marker, "caught up", CatchUpTimeout);
        var catchUp = clock.Elapsed;
        await sampling.CancelAsync();
        var peakApply = (await applyRates).DefaultIfEmpty(0).Max() / 1e6;
        var rate = backlog.Bytes / 1e6 / catchUp.TotalSeconds;
        context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   caught up in {catchUp.TotalSeconds:0.00} s: {rate:0} MB/s shipped and applied; backup's apply rate peaked at {peakApply:0} MB/s; " +
            $"{bench.Sites.Link.BytesForwarded / 1e6:0} MB crossed the link in all"));
        return
        [
            new BenchmarkFigure("catch-up after outage (ship + apply)", rate, "MB/s", "≥ 500"),
            new BenchmarkFigure("apply throughput at the backup, peak", peakApply, "MB/s", "≥ 500"),
            new BenchmarkFigure("catch-up time", catchUp.TotalSeconds, "s"),
            new BenchmarkFigure("backlog written during the outage", backlog.Bytes / 1e6, "MB"),
        ];
    }

    /// <summary>The backup's own apply rate (its metrics endpoint, a rate over its last few
    /// seconds) every 100 ms until cancelled.</summary>
    private static async Task<List<double>> SampleApplyRateAsync(ReplicationSite backup, string replicationId, CancellationToken stop)
    {
        var rates = new List<double>();
        try
        {
            while (rates.Count < 10_000)
            {
                var samples = new PrometheusSamples(await backup.ScrapeMetricsAsync());
                rates.Add(samples.Find(ReplicationMetrics.ApplyBytesPerSecond, ReplicationMetrics.ReplicationLabel, replicationId) ?? 0);
                await Task.Delay(TimeSpan.FromMilliseconds(100), stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        return rates;
    }

    /// <summary>One more write after the load; returns a time no later than its main-site stamp.</summary>
    private static async Task<DateTimeOffset> WriteMarkerAsync(string nbdSocket, string volumeId)
    {
        await using var device = await NbdBlockDevice.OpenAsync(nbdSocket, volumeId);
        var block = new byte[4096];
        var before = DateTimeOffset.UtcNow;
        await device.WriteAsync(0, block, fua: true);
        return before;
    }
}
