using System.Net;
using CsiDriver.Metrics;
using Microsoft.Extensions.Logging.Abstractions;

namespace CsiDriver.Tests.Metrics;

/// <summary>A real Kestrel listener on a loopback port the kernel picks, and real HTTP requests.</summary>
public sealed class MetricsServerTests : IAsyncLifetime
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(20) };
    private int _collections;
    private MetricsServer? _server;

    public async Task InitializeAsync()
    {
        _server = new MetricsServer(new IPEndPoint(IPAddress.Loopback, 0), Collect, NullLogger.Instance);
        await _server.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    private IEnumerable<MetricFamily> Collect()
    {
        var scrape = Interlocked.Increment(ref _collections);
        return
        [
            new MetricFamily("formation_test_scrapes", "Scrapes so far.", MetricType.Counter, [MetricSample.Of(scrape, ("site", "main \"a\""))]),
        ];
    }

    private Uri Url(string path) => new($"http://{_server!.BoundEndpoint}{path}");

    [Fact]
    public async Task Get_metrics_answers_the_text_format_collected_at_that_moment()
    {
        Assert.NotEqual(0, _server!.BoundEndpoint.Port);

        using var first = await _http.GetAsync(Url("/metrics"));
        var body = await first.Content.ReadAsStringAsync();
        var second = await _http.GetStringAsync(Url("/metrics"));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", first.Content.Headers.ContentType?.ToString());
        Assert.Equal(
            "# HELP formation_test_scrapes Scrapes so far.\n# TYPE formation_test_scrapes counter\nformation_test_scrapes{site=\"main \\\"a\\\"\"} 1\n",
            body);
        Assert.EndsWith("} 2\n", second);
    }

    [Fact]
    public async Task Other_paths_are_not_found_and_other_methods_not_allowed()
    {
        using var other = await _http.GetAsync(Url("/"));
        using var post = await _http.PostAsync(Url("/metrics"), new StringContent("x"));

        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Contains("GET", post.Content.Headers.Allow);
    }

    [Fact]
    public async Task A_failing_collection_is_a_failed_scrape_not_a_partial_page()
    {
        await using var failing = new MetricsServer(new IPEndPoint(IPAddress.Loopback, 0),
            () => throw new InvalidOperationException("engine closed"), NullLogger.Instance);
        await failing.StartAsync(CancellationToken.None);

        using var response = await _http.GetAsync(new Uri($"http://{failing.BoundEndpoint}/metrics"));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
    }
}
