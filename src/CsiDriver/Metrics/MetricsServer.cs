using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Metrics;

/// <summary>
/// Serves <c>GET /metrics</c> over plain HTTP/1.1 on Kestrel, for a Prometheus scraper: each
/// request renders what <c>collect</c> returns at that moment (nothing is cached, so a scrape
/// never shows stale numbers). HEAD is answered like GET without a body; other methods get 405,
/// other paths 404. Like the gRPC servers it is embedded: the process owning it handles
/// signals, and only the options given here configure it.
/// </summary>
public sealed partial class MetricsServer(IPEndPoint endpoint, Func<IEnumerable<MetricFamily>> collect, ILogger logger) : IAsyncDisposable
{
    public const string Path = "/metrics";

    private IHost? _host;
    private ListenOptions? _listen;

    /// <summary>Where the server listens once started, with the port actually bound.</summary>
    public IPEndPoint BoundEndpoint => (IPEndPoint?)_listen?.EndPoint ?? throw new InvalidOperationException("the metrics server has not started");

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var host = new HostBuilder()
            .ConfigureLogging(logging => logging.ClearProviders())
            .ConfigureServices(services => services.AddSingleton<IHostLifetime, EmbeddedLifetime>())
            .ConfigureWebHost(
                web => web
                    .UseKestrel(kestrel =>
                    {
                        kestrel.AddServerHeader = false;
                        kestrel.Listen(endpoint, listen =>
                        {
                            listen.Protocols = HttpProtocols.Http1;
                            _listen = listen;
                        });
                    })
                    .Configure(app => app.Run(HandleAsync)),
                web => web.SuppressEnvironmentConfiguration = true)
            .Build();
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        _host = host;
        LogListening(logger, BoundEndpoint.ToString());
    }

    private async Task HandleAsync(HttpContext context)
    {
        var response = context.Response;
        if (context.Request.Path != Path)
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "GET, HEAD";
            return;
        }
        string body;
        try
        {
            body = PrometheusText.Render(collect());
        }
        catch (Exception e)
        {
            // A scrape that cannot be rendered is reported as a failed scrape, never as a
            // partial page that a scraper would take for the whole truth.
            LogCollectFailed(logger, e);
            response.StatusCode = StatusCodes.Status500InternalServerError;
            return;
        }
        var bytes = Encoding.UTF8.GetBytes(body);
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = PrometheusText.ContentType;
        response.ContentLength = bytes.Length;
        if (HttpMethods.IsGet(context.Request.Method))
        {
            await response.Body.WriteAsync(bytes, context.RequestAborted);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _host, null) is { } host)
        {
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await host.StopAsync(grace.Token);
            host.Dispose();
        }
    }

    private sealed class EmbeddedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "serving Prometheus metrics on http://{Endpoint}/metrics")]
    private static partial void LogListening(ILogger logger, string endpoint);

    [LoggerMessage(Level = LogLevel.Error, Message = "collecting metrics failed; the scrape is answered 500")]
    private static partial void LogCollectFailed(ILogger logger, Exception exception);
}
