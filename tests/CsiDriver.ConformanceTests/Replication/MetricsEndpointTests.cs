using System.Diagnostics;
using System.Text.RegularExpressions;
using CsiDriver.ConformanceTests.Infrastructure;
using static CsiDriver.ConformanceTests.Replication.ReplicationCalls;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>`csidriver serve --metrics-address`: a Prometheus scrape of the real process over
/// loopback HTTP, before and after a replication is enabled.</summary>
public sealed partial class MetricsEndpointTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_scrape_shows_the_engine_journals_and_each_replication()
    {
        using var workspace = DriverWorkspace.Create();
        var arguments = new DriverSettings { CsiAddons = true }.Arguments(workspace).Concat(["--metrics-address", "127.0.0.1:0"]).ToList();
        var output = new ProcessOutput();
        using var process = DriverCommand.Start(arguments, output);
        try
        {
            var line = await output.WaitForLineAsync(l => MetricsUrl().IsMatch(l), "the metrics server's address", Bound);
            var url = new Uri(MetricsUrl().Match(line).Value);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            await EventuallyAsync(http, url, "formation_driver_ready 1\n");

            using var csi = new CsiClient(workspace.SocketPath);
            using var addons = new CsiAddonsClient(workspace.CsiAddonsSocketPath);
            var volumeId = (await csi.CreateAsync("scraped")).VolumeId;
            await addons.Enable(EnableRequest(OfVolume(volumeId), new Dictionary<string, string> { ["peerAddress"] = UnreachablePeer() }, TlsSecrets()));

            var text = await EventuallyAsync(http, url, $"formation_replication_lag_seconds{{replication=\"{volumeId}\"}} ");

            Assert.Contains("# TYPE formation_replication_lag_seconds gauge\n", text);
            foreach (var family in new[] { "journal_outstanding_bytes", "journal_outstanding_records", "applied_sequence", "ship_bytes_per_second", "apply_bytes_per_second" })
            {
                Assert.Contains($"formation_replication_{family}{{replication=\"{volumeId}\"}} ", text);
            }
            // Exactly one state is current, and this site is the primary.
            var states = text.Split('\n').Where(l => l.StartsWith($"formation_replication_state{{replication=\"{volumeId}\",role=\"primary\"", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(states);
            Assert.Single(states, l => l.EndsWith(" 1", StringComparison.Ordinal));
            Assert.Matches(@"formation_journal_retained_bytes\{journal=""[^""]+"",consistency_group=""""\} \d+", text);
        }
        finally
        {
            await StopAsync(process, output);
        }
    }

    [Fact]
    public async Task A_malformed_address_is_refused_at_start()
    {
        using var workspace = DriverWorkspace.Create();
        var arguments = new DriverSettings().Arguments(workspace).Concat(["--metrics-address", "9100"]).ToList();

        var (exitCode, output) = await DriverCommand.RunToExitAsync(arguments, Bound);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("--metrics-address", output.AllText);
    }

    /// <summary>Scrapes (bounded) until the page holds <paramref name="expected"/>; returns it.</summary>
    private static async Task<string> EventuallyAsync(HttpClient http, Uri url, string expected)
    {
        var deadline = DateTime.UtcNow + Bound;
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await http.GetStringAsync(url);
                if (last.Contains(expected, StringComparison.Ordinal))
                {
                    return last;
                }
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }
            await Task.Delay(100);
        }
        Assert.Fail($"no scrape of {url} held '{expected}' within {Bound.TotalSeconds} s; last:\n{last}");
        return last;
    }

    private static async Task StopAsync(Process process, ProcessOutput output)
    {
        if (!process.HasExited)
        {
            Signals.Send(process.Id, Signals.SigTerm);
        }
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await process.WaitForExitAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"csidriver did not stop within 15 s of SIGTERM; output:\n{output.AllText}");
        }
        Assert.True(process.ExitCode == 0, $"csidriver exited with {process.ExitCode}; output:\n{output.AllText}");
    }

    [GeneratedRegex(@"http://[0-9.]+:[0-9]+/metrics")]
    private static partial Regex MetricsUrl();
}
