using System.Net;
using CsiDriver.Rpc.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CsiDriver.Rpc;

/// <summary>
/// A gRPC server on Kestrel: HTTP/2 cleartext on unix sockets, HTTP/2 over TLS (optionally mutual)
/// on TCP. Calls are routed by <see cref="CallRouter"/> to the bound services.
/// </summary>
public sealed class GrpcServer : IAsyncDisposable
{
    /// <summary>
    /// "Never" for Kestrel's keep-alive limit. Kestrel turns InfiniteTimeSpan into
    /// TimeSpan.MaxValue and adds it to the current timestamp, which overflows: the connection is
    /// then closed at the next heartbeat (about a second), the opposite of what was asked.
    /// A century fits the timestamp arithmetic with room to spare.
    /// </summary>
    private static readonly TimeSpan KestrelNever = TimeSpan.FromDays(365 * 100);

    private readonly GrpcServerOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly CallRouter _router;
    private readonly List<(ServerEndpoint Endpoint, ListenOptions Listen)> _listeners = new();
    private IHost? _host;

    public GrpcServer(GrpcServerOptions options, IEnumerable<ServiceBinding> services)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(services);
        if (options.Endpoints.Count == 0)
        {
            throw new ArgumentException("At least one endpoint is required.", nameof(options));
        }
        var unix = options.Endpoints.Count(e => e is ServerEndpoint.UnixSocket);
        if (unix != 0 && unix != options.Endpoints.Count)
        {
            // Kestrel's keep-alive limit is one per server; the two kinds need different ones.
            throw new ArgumentException("A server listens on unix sockets or on TCP, not both: their idle-connection rules differ.", nameof(options));
        }
        if (options.TcpIdleConnectionTimeout <= TimeSpan.Zero && options.TcpIdleConnectionTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentException("TcpIdleConnectionTimeout must be positive or infinite.", nameof(options));
        }
        _options = options;
        IdleConnectionTimeout = unix != 0 ? Timeout.InfiniteTimeSpan : options.TcpIdleConnectionTimeout;
        _loggerFactory = options.LoggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger("CsiDriver.Rpc");
        _router = new CallRouter(services,
            new CallSettings(options.MaxReceiveMessageSize, options.TimeProvider, options.OnCallCompleted, _logger));
    }

    /// <summary>
    /// How long a connection with no call in flight stays open. On unix sockets: never closed
    /// (<see cref="Timeout.InfiniteTimeSpan"/>). The CSI sidecars (csi-lib-utils) dial their
    /// socket with no client idle timeout and treat any second dial as a lost driver: with
    /// ExitOnConnectionLoss they exit. A local peer that dies closes its socket with it, so an
    /// idle unix connection costs nothing and can never be half-open.
    /// </summary>
    public TimeSpan IdleConnectionTimeout { get; }

    /// <summary>Where the server listens once started; TCP entries carry the port actually bound.</summary>
    public IReadOnlyList<EndPoint> BoundEndpoints { get; private set; } = [];

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_host is not null)
        {
            throw new InvalidOperationException("The server is already started.");
        }
        foreach (var unix in _options.Endpoints.OfType<ServerEndpoint.UnixSocket>())
        {
            if (UnixSocketFile.RemoveStale(unix.Path))
            {
                RpcLog.StaleSocketRemoved(_logger, unix.Path);
            }
        }
        var builder = new HostBuilder()
            .ConfigureLogging(logging => logging.ClearProviders())
            .ConfigureServices(services =>
            {
                services.AddSingleton<ILoggerFactory>(new FrameworkLogFilter(_loggerFactory));
                // The process owning this server decides about signals; the host must not.
                services.AddSingleton<IHostLifetime, EmbeddedHostLifetime>();
                services.Configure<HostOptions>(host => host.ShutdownTimeout = _options.ShutdownTimeout);
            })
            .ConfigureWebHost(
                web => web
                    .UseKestrel(ConfigureKestrel)
                    .Configure(app => app.Run(_router.RouteAsync)),
                // Only our options configure this server, never ASPNETCORE_* variables meant for something else.
                web => web.SuppressEnvironmentConfiguration = true);
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Nothing live owned these paths before we probed them, so whatever is there now is ours.
            host.Dispose();
            RemoveSocketFiles();
            throw;
        }
        _host = host;
        BoundEndpoints = _listeners.Select(l => l.Listen.EndPoint).ToArray();
        foreach (var endpoint in BoundEndpoints)
        {
            RpcLog.Listening(_logger, endpoint.ToString() ?? "?");
        }
    }

    /// <summary>Stops accepting calls, lets those in flight finish (up to ShutdownTimeout), removes socket files.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        var host = Interlocked.Exchange(ref _host, null);
        if (host is null)
        {
            return;
        }
        try
        {
            await host.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            host.Dispose();
            RemoveSocketFiles();
            RpcLog.Stopped(_logger);
        }
    }

    private void RemoveSocketFiles()
    {
        foreach (var unix in _options.Endpoints.OfType<ServerEndpoint.UnixSocket>())
        {
            UnixSocketFile.Remove(unix.Path);
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private void ConfigureKestrel(KestrelServerOptions kestrel)
    {
        kestrel.AddServerHeader = false;
        // Streams stay open and idle for as long as a call lasts; message size is limited per message.
        kestrel.Limits.MinRequestBodyDataRate = null;
        kestrel.Limits.MinResponseDataRate = null;
        kestrel.Limits.MaxRequestBodySize = null;
        kestrel.Limits.KeepAliveTimeout = IdleConnectionTimeout == Timeout.InfiniteTimeSpan ? KestrelNever : IdleConnectionTimeout;
        if (_options.ReceiveWindowBytes is { } window)
        {
            kestrel.Limits.Http2.InitialStreamWindowSize = window;
            kestrel.Limits.Http2.InitialConnectionWindowSize = window;
        }
        _listeners.Clear();
        foreach (var endpoint in _options.Endpoints)
        {
            switch (endpoint)
            {
                case ServerEndpoint.UnixSocket unix:
                    kestrel.ListenUnixSocket(unix.Path, listen =>
                    {
                        listen.Protocols = HttpProtocols.Http2;
                        _listeners.Add((endpoint, listen));
                    });
                    break;
                case ServerEndpoint.Tcp tcp:
                    kestrel.Listen(tcp.EndPoint, listen =>
                    {
                        listen.Protocols = HttpProtocols.Http2;
                        listen.UseHttps(TlsSettings.ForServer(tcp));
                        _listeners.Add((endpoint, listen));
                    });
                    break;
                default:
                    throw new ArgumentException($"Unsupported endpoint {endpoint}.");
            }
        }
    }

    private sealed class EmbeddedHostLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
