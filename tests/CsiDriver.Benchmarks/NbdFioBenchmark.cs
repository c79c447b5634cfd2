using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CsiDriver.Engine;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.Benchmarks;

/// <summary>
/// fio's nbd engine against our export of an engine volume and against `nbdkit file` serving a
/// plain file of the same size, side by side in one run: 1 MiB sequential writes (which also
/// fill both targets), 4 KiB random writes at queue depth 16, 4 KiB random reads at queue depth 16.
/// The machine is shared and noisy, so each workload alternates ours and nbdkit for a few short
/// rounds and compares the medians.
/// </summary>
public sealed class NbdFioBenchmark : IBenchmark
{
    private const long TargetSize = 512L * 1024 * 1024;
    private const string ExportName = "bench";
    private const int Rounds = 3;
    private static readonly TimeSpan RunTime = TimeSpan.FromSeconds(4);

    private static readonly Workload[] Workloads =
    [
        new("1 MiB sequential write", "write", "1m", 4, Goal: null),
        new("4 KiB random write QD16", "randwrite", "4k", 16, Goal: "≥ 0.8"),
        new("4 KiB random read QD16", "randread", "4k", 16, Goal: "> 1.0"),
    ];

    public string Name => "nbd-fio";

    public async Task<IReadOnlyList<BenchmarkFigure>> RunAsync(BenchmarkContext context, CancellationToken cancellationToken)
    {
        var ourSocket = Path.Combine(context.WorkDirectory, "ours.sock");
        var nbdkitSocket = Path.Combine(context.WorkDirectory, "nbdkit.sock");
        var plainFile = Path.Combine(context.WorkDirectory, "plain.img");
        using (var file = File.Create(plainFile))
        {
            file.SetLength(TargetSize);
        }

        using var engine = StorageEngine.Open(Path.Combine(context.WorkDirectory, "data"));
        engine.CreateVolume(ExportName, TargetSize);
        await using var server = new NbdServer(new NbdServerOptions
        {
            Endpoints = [NbdEndpoint.Unix(ourSocket)],
            Exports = new VolumeExportCatalog(engine),
        });
        await server.StartAsync(cancellationToken);
        using var nbdkit = StartNbdkit(nbdkitSocket, plainFile);
        try
        {
            await WaitForSocketAsync(nbdkitSocket, cancellationToken);
            var figures = new List<BenchmarkFigure>();
            foreach (var workload in Workloads)
            {
                var oursRounds = new List<double>();
                var theirsRounds = new List<double>();
                for (var round = 0; round < Rounds; round++)
                {
                    oursRounds.Add(await RunFioAsync(workload, $"nbd+unix:///{ExportName}?socket={ourSocket}", cancellationToken));
                    theirsRounds.Add(await RunFioAsync(workload, $"nbd+unix:///?socket={nbdkitSocket}", cancellationToken));
                }
                var ours = Median(oursRounds);
                var theirs = Median(theirsRounds);
                var ratio = ours / theirs;
                context.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"   {workload.Title,-26} ours {ours,10:0} IOPS   nbdkit {theirs,10:0} IOPS   ratio {ratio:0.00}"));
                figures.Add(new BenchmarkFigure($"{workload.Title}: ours / nbdkit", ratio, "ratio", workload.Goal));
                figures.Add(new BenchmarkFigure($"{workload.Title}: ours", ours, "IOPS"));
                figures.Add(new BenchmarkFigure($"{workload.Title}: nbdkit", theirs, "IOPS"));
            }
            return figures;
        }
        finally
        {
            nbdkit.Kill(entireProcessTree: true);
            await nbdkit.WaitForExitAsync(CancellationToken.None);
        }
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private sealed record Workload(string Title, string Pattern, string BlockSize, int QueueDepth, string? Goal);

    private static Process StartNbdkit(string socket, string file)
    {
        // -f: stay in the foreground so the benchmark owns the process; file plugin, no cache tricks.
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

    /// <summary>Runs one fio job and returns its IOPS (reads or writes, whichever the job does).</summary>
    private static async Task<double> RunFioAsync(Workload workload, string uri, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("fio") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
        {
            "--name=bench", "--ioengine=nbd", $"--uri={uri}", $"--rw={workload.Pattern}", $"--bs={workload.BlockSize}",
            $"--iodepth={workload.QueueDepth}", $"--size={TargetSize}", "--time_based",
            $"--runtime={(int)RunTime.TotalSeconds}", "--ramp_time=1", "--output-format=json",
        })
        {
            info.ArgumentList.Add(argument);
        }
        using var fio = Process.Start(info) ?? throw new InvalidOperationException("could not start fio; run `make test-deps`");
        var output = fio.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = fio.StandardError.ReadToEndAsync(cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(RunTime * 4);
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
            throw new InvalidOperationException($"fio against {uri} exited with {fio.ExitCode}: {await error}");
        }
        var json = await output;
        using var report = JsonDocument.Parse(json[json.IndexOf('{')..]);
        var job = report.RootElement.GetProperty("jobs")[0];
        var direction = workload.Pattern.Contains("read", StringComparison.Ordinal) ? "read" : "write";
        return job.GetProperty(direction).GetProperty("iops").GetDouble();
    }
}
