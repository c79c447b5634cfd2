using CsiDriver.Cluster;
using CsiDriver.Csi;
using CsiDriver.Logging;
using CsiDriver.Metrics;
using CsiDriver.Rpc;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Hosting;

/// <summary>
/// Runs `csidriver serve`: opens the sockets, loads the engine behind them, and on SIGTERM or
/// SIGINT stops accepting calls, lets those in flight finish, and removes the sockets.
/// </summary>
public static partial class DriverHost
{
    public static async Task<int> RunAsync(DriverOptions options, CancellationToken cancellationToken)
    {
        using var loggerFactory = LogSetup.Create(options.JsonLogs);
        var log = loggerFactory.CreateLogger("csidriver");
        using var stop = new ShutdownSignal(cancellationToken);

        await using var runtime = new DriverRuntime(options, loggerFactory);
        var rpcLog = loggerFactory.CreateLogger("rpc");
        var servers = new List<GrpcServer> { Server(options.Endpoint, runtime.CsiServices(), rpcLog, loggerFactory) };
        if (options.CsiAddonsEndpoint is { } addons)
        {
            servers.Add(Server(addons, runtime.CsiAddonsServices(), rpcLog, loggerFactory));
        }
        if (options.NodeLink is { } nodeLink)
        {
            servers.Add(Server(nodeLink.ListenEndpoint(), runtime.NodeLinkServices(), rpcLog, loggerFactory));
        }
        await using var registration = options.ControllerAddress is { } controller
            ? new NodeRegistration(runtime.Driver, HostPort.Parse(controller, "--controller-address"), options.NodeLink!, loggerFactory.CreateLogger<NodeRegistration>())
            : null;
        // Serves before the engine loads, like the sockets: a scrape then says driver_ready 0.
        await using var metrics = options.MetricsAddress is { } address
            ? new MetricsServer(MetricsAddress.Parse(address), () => DriverMetrics.Collect(runtime.Driver), loggerFactory.CreateLogger("metrics"))
            : null;
        return await ServeUntilStoppedAsync(servers, stop, log, async () =>
        {
            if (metrics is not null)
            {
                await metrics.StartAsync(stop.Token);
            }
            LogServing(log, options.DriverName, IdentityService.VendorVersion, options.Endpoint, options.NodeId);
            await runtime.LoadAsync(stop.Token);
            registration?.Start();
            if (options.SiteLinkAddress is { } siteLink)
            {
                var linkServer = SiteLinkServer(siteLink, runtime, rpcLog, loggerFactory);
                servers.Add(linkServer);
                await linkServer.StartAsync(stop.Token);
            }
        });
    }

    /// <summary>
    /// Starts <paramref name="servers"/>, then <paramref name="started"/> (which may add more),
    /// and serves until SIGTERM or SIGINT; then stops them all, letting calls in flight finish.
    /// 0 for a clean stop, 1 when starting failed (logged).
    /// </summary>
    internal static async Task<int> ServeUntilStoppedAsync(List<GrpcServer> servers, ShutdownSignal stop, ILogger log, Func<Task> started)
    {
        try
        {
            foreach (var server in servers)
            {
                await server.StartAsync(stop.Token);
            }
            await started();
            await stop.WaitAsync();
            LogStopping(log);
            return 0;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogFatal(log, e);
            return 1;
        }
        finally
        {
            await StopAsync(servers);
        }
    }

    /// <summary>Stops the servers, letting the calls in flight finish for up to 10 s.</summary>
    private static async Task StopAsync(IEnumerable<GrpcServer> servers)
    {
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        foreach (var server in servers)
        {
            await server.StopAsync(grace.Token);
            await server.DisposeAsync();
        }
    }

    internal static GrpcServer Server(string endpoint, IEnumerable<ServiceBinding> services, ILogger rpcLog, ILoggerFactory loggerFactory) =>
        Server(ServerEndpoint.Parse(endpoint), services, rpcLog, loggerFactory);

    /// <summary>A server on <paramref name="endpoint"/> logging one line per call; with
    /// <paramref name="failuresOnly"/> only failed calls (a registry renewed every few seconds by
    /// every node would otherwise drown the log).</summary>
    internal static GrpcServer Server(ServerEndpoint endpoint, IEnumerable<ServiceBinding> services, ILogger rpcLog, ILoggerFactory loggerFactory, bool failuresOnly = false)
    {
        var options = new GrpcServerOptions
        {
            LoggerFactory = loggerFactory,
            OnCallCompleted = call =>
            {
                if (!failuresOnly || call.Status != StatusCode.OK)
                {
                    LogCall(rpcLog, call);
                }
            },
        };
        options.Endpoints.Add(endpoint);
        return new GrpcServer(options, services);
    }

    /// <summary>The site link: mutual TLS, the peer's certificate checked against --site-link-ca only.</summary>
    private static GrpcServer SiteLinkServer(string address, DriverRuntime runtime, ILogger rpcLog, ILoggerFactory loggerFactory)
    {
        var tls = runtime.SiteLinkTls ?? throw new InvalidOperationException("--site-link-address needs --site-link-cert, --site-link-key and --site-link-ca");
        var options = new GrpcServerOptions
        {
            LoggerFactory = loggerFactory,
            OnCallCompleted = call => LogCall(rpcLog, call),
            ReceiveWindowBytes = Replication.SiteLinkProtocol.MaxInflightBytes,
        };
        options.Endpoints.Add(new ServerEndpoint.Tcp(Replication.SiteLinkAddress.Parse(address).ToListenEndPoint(), tls.Certificate, tls.Authorities));
        return new GrpcServer(options, runtime.SiteLinkServices());
    }

    internal static void LogCall(ILogger log, CallCompletion call)
    {
        var request = call.Request is null ? "(stream)" : RpcLog.Bounded(SecretRedactor.Render(call.Request))!;
        var ms = call.Duration.TotalMilliseconds;
        if (call.Status == StatusCode.OK)
        {
            RpcLog.Completed(log, call.Method, call.Status.ToString(), ms, request);
        }
        else
        {
            RpcLog.Failed(log, call.Method, call.Status.ToString(), ms, RpcLog.Bounded(call.StatusMessage), request);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{DriverName} {Version} serving on {Endpoint} as node {NodeId}")]
    private static partial void LogServing(ILogger logger, string driverName, string version, string endpoint, string nodeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "stopping: finishing calls in flight and removing the sockets")]
    private static partial void LogStopping(ILogger logger);

    [LoggerMessage(Level = LogLevel.Critical, Message = "csidriver cannot continue")]
    private static partial void LogFatal(ILogger logger, Exception exception);
}
