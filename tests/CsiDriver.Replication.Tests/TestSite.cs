using System.Net;
using System.Net.Sockets;
using CsiDriver.Engine;
using CsiDriver.Replication;
using CsiDriver.Rpc;
using CsiDriver.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace CsiDriver.Replication.Tests;

/// <summary>
/// One site in-process: a real engine and state store in a temporary directory, a
/// ReplicationManager, and the site link served over mutual TLS on a loopback port that stays
/// the same across <see cref="StopLinkAsync"/> / <see cref="StartLinkAsync"/> (a cut link).
/// </summary>
internal sealed class TestSite : IAsyncDisposable
{
    public static readonly ShipperSettings FastShipper = new()
    {
        InitialBackoff = TimeSpan.FromMilliseconds(20),
        MaxBackoff = TimeSpan.FromMilliseconds(500),
        StallTimeout = TimeSpan.FromSeconds(5),
        HeartbeatInterval = TimeSpan.FromMilliseconds(200),
    };

    private readonly string _directory = Directory.CreateTempSubdirectory("formation-site-").FullName;
    private readonly SiteLinkTls _tls;
    private GrpcServer? _server;

    public TestSite(string siteId, SiteLinkTls tls, TimeSpan? drainTimeout = null, EngineOptions? engineOptions = null)
    {
        _tls = tls;
        SiteId = siteId;
        DrainTimeout = drainTimeout ?? TimeSpan.FromSeconds(10);
        Port = FreePort();
        Engine = StorageEngine.Open(Path.Combine(_directory, "engine"), engineOptions);
        State = StateStore.Open(Path.Combine(_directory, "state.db"));
        Manager = NewManager();
    }

    public string SiteId { get; }

    public int Port { get; }

    public string Address => $"127.0.0.1:{Port}";

    public StorageEngine Engine { get; }

    public StateStore State { get; }

    public ReplicationManager Manager { get; private set; }

    public TimeSpan DrainTimeout { get; }

    public async Task StartLinkAsync()
    {
        var options = new GrpcServerOptions();
        options.Endpoints.Add(new ServerEndpoint.Tcp(new IPEndPoint(IPAddress.Loopback, Port), _tls.Certificate, _tls.Authorities));
        _server = new GrpcServer(options, [new SiteLinkService(Manager, Engine, NullLoggerFactory.Instance).Binding()]);
        await _server.StartAsync();
    }

    /// <summary>Stops serving the link: streams in progress are cut.</summary>
    public async Task StopLinkAsync()
    {
        if (_server is not null)
        {
            await _server.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(2)).Token);
            await _server.DisposeAsync();
            _server = null;
        }
    }

    /// <summary>A manager restart over the same data directory (what a driver restart does).</summary>
    public async Task RestartManagerAsync()
    {
        await StopLinkAsync();
        await Manager.DisposeAsync();
        Manager = NewManager();
        Manager.Start();
        await StartLinkAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopLinkAsync();
        await Manager.DisposeAsync();
        State.Dispose();
        Engine.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private ReplicationManager NewManager() => new(Engine, State, new VolumeRows(State, TimeProvider.System), new ReplicationManagerOptions
    {
        SiteId = SiteId,
        SiteAddress = Address,
        DefaultTls = _tls,
        Shipper = FastShipper,
        DrainTimeout = DrainTimeout,
        RoleQueryTimeout = TimeSpan.FromSeconds(2),
    }, Environment.GetEnvironmentVariable("REPL_TEST_LOG") is null ? NullLoggerFactory.Instance : CsiDriver.Logging.LogSetup.Create(false));

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
