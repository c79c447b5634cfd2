namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>
/// One site of a two-site test: a `csidriver serve` process with its own workspace (data
/// directory, CSI and csi-addons sockets, NBD socket), a site-link listener on a free port of
/// its host's address (loopback unless a <see cref="SitePlacement"/> says otherwise) with its
/// certificate, and a metrics endpoint beside it. The workspace and ports outlive the process,
/// so <see cref="CrashAsync"/> (SIGKILL) followed by <see cref="StartAsync"/> is a restart of
/// the same site on the same state.
/// </summary>
public sealed class ReplicationSite : IAsyncDisposable
{
    private static readonly TimeSpan MetricsTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan SiteLinkTimeout = TimeSpan.FromSeconds(15);

    private readonly DriverWorkspace _workspace = DriverWorkspace.Create();
    private DriverProcess? _process;
    private CsiAddonsClient? _addons;
    private readonly List<ProcessOutput> _outputs = [];

    private readonly SitePlacement _placement;

    public ReplicationSite(string name, SiteIdentity identity, SitePlacement? placement = null)
    {
        Name = name;
        Identity = identity;
        _placement = placement ?? SitePlacement.Loopback;
        SiteLinkAddress = $"{_placement.Host}:{LoopbackPorts.Free()}";
        MetricsAddress = $"{_placement.Host}:{LoopbackPorts.Free()}";
    }

    public string Name { get; }

    public SiteIdentity Identity { get; private set; }

    /// <summary>host:port this site's site-link server listens on.</summary>
    public string SiteLinkAddress { get; }

    public string MetricsAddress { get; }

    /// <summary>The address this site tells its peer to reach it at (a proxy in front of
    /// <see cref="SiteLinkAddress"/>); null: that address itself.</summary>
    public string? AdvertisedAddress { get; set; }

    public DriverWorkspace Workspace => _workspace;

    /// <summary>What every process of this site wrote, oldest first, for failure messages.</summary>
    public string OutputText => string.Join("\n--- restarted ---\n", _outputs.Select(o => o.AllText));

    public string NbdSocket => Path.Combine(_workspace.DataDirectory, "nbd.sock");

    public bool IsRunning => _process is not null;

    public DriverProcess Process => _process ?? throw new InvalidOperationException($"site {Name} is not running");

    public CsiClient Csi => Process.Csi;

    public CsiAddonsClient Addons => _addons ?? throw new InvalidOperationException($"site {Name} is not running");

    /// <summary>A role-change step (FORMATION_CRASH_AT) at which the next start's process kills
    /// itself with SIGKILL; null: none.</summary>
    public string? CrashAt { get; set; }

    public DriverSettings Settings => new()
    {
        NodeId = Name + "-node",
        CsiAddons = true,
        SiteLink = new SiteLinkSettings(SiteLinkAddress, Name, Identity, AdvertisedAddress),
        MetricsAddress = MetricsAddress,
        Launcher = [.. _placement.Launcher, .. CrashAt is { } step ? ["env", $"FORMATION_CRASH_AT={step}"] : Array.Empty<string>()],
        ExtraArguments = _placement.ExtraArguments,
    };

    /// <summary>Starts (or restarts) the site's process and waits until it is ready.</summary>
    public async Task StartAsync()
    {
        if (_process is not null)
        {
            throw new InvalidOperationException($"site {Name} is already running");
        }
        _process = await DriverProcess.StartAsync(_workspace, Settings);
        _outputs.Add(_process.Output);
        _addons = new CsiAddonsClient(_workspace.CsiAddonsSocketPath);
        await WaitForSiteLinkAsync();
    }

    /// <summary>The site link listens only once the engine has loaded, which can be a moment after
    /// Probe first says ready: wait (bounded) until it accepts connections.</summary>
    private async Task WaitForSiteLinkAsync()
    {
        var endpoint = System.Net.IPEndPoint.Parse(SiteLinkAddress);
        var deadline = DateTime.UtcNow + SiteLinkTimeout;
        while (true)
        {
            using var probe = new System.Net.Sockets.TcpClient();
            try
            {
                await probe.ConnectAsync(endpoint);
                return;
            }
            catch (System.Net.Sockets.SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(25);
            }
        }
    }

    /// <summary>Restarts with another identity (a certificate the peer must refuse, say).</summary>
    public async Task RestartAsAsync(SiteIdentity identity)
    {
        await StopAsync();
        Identity = identity;
        await StartAsync();
    }

    /// <summary>SIGKILL: no graceful stop, as a power cut or an OOM kill ends the site.</summary>
    public async Task CrashAsync()
    {
        var process = Detach();
        await process.CrashAsync();
        await process.DisposeAsync();
    }

    /// <summary>Waits (bounded) until the process has killed itself at <see cref="CrashAt"/>,
    /// then forgets it, so <see cref="StartAsync"/> restarts the site on the state it left.</summary>
    public async Task WaitForCrashAsync()
    {
        var deadline = DateTime.UtcNow + SiteLinkTimeout;
        while (!Process.HasExited)
        {
            Assert.True(DateTime.UtcNow < deadline, $"site {Name} did not stop at {CrashAt} within {SiteLinkTimeout.TotalSeconds} s\n{OutputText}");
            await Task.Delay(25);
        }
        await Detach().DisposeAsync();
        CrashAt = null;
    }

    /// <summary>Graceful stop (SIGTERM), asserted clean.</summary>
    public async Task StopAsync()
    {
        var process = Detach();
        try
        {
            await process.StopAsync();
        }
        finally
        {
            await process.DisposeAsync();
        }
    }

    /// <summary>The Prometheus text the site's metrics endpoint serves now.</summary>
    public async Task<string> ScrapeMetricsAsync()
    {
        using var http = new HttpClient { Timeout = MetricsTimeout };
        return await http.GetStringAsync($"http://{MetricsAddress}/metrics");
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await Detach().DisposeAsync();
        }
        _workspace.Dispose();
    }

    private DriverProcess Detach()
    {
        var process = Process;
        _addons?.Dispose();
        _addons = null;
        _process = null;
        return process;
    }
}
