using CsiDriver.Csi;
using CsiDriver.Engine;
using CsiDriver.Engine.Nbd;
using CsiDriver.Node;
using CsiDriver.Replication;
using CsiDriver.Rpc;
using CsiDriver.Sessions;
using CsiDriver.State;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Hosting;

/// <summary>
/// One run of the driver behind its sockets: the services' shared <see cref="Csi.Driver"/>, the
/// node's attach machinery, and what <see cref="LoadAsync"/> brings up for them (the data
/// directory's lock, the engine and its NBD server, the state store, the replication manager),
/// released in order at the end.
/// </summary>
public sealed partial class DriverRuntime : IAsyncDisposable
{
    private readonly ILogger _log;
    private readonly ILoggerFactory _loggerFactory;
    private FileStream? _dataLock;
    private StorageEngine? _engine;
    private StateStore? _state;
    private NbdServer? _nbd;
    private ReplicationManager? _replication;

    public DriverRuntime(DriverOptions options, ILoggerFactory loggerFactory)
    {
        Driver = new Driver(options);
        _loggerFactory = loggerFactory;
        _log = loggerFactory.CreateLogger<DriverRuntime>();
        NbdEndpoint = options.NbdEndpoint is { } endpoint
            ? NbdEndpoint.Parse(endpoint)
            : NbdEndpoint.Default(options.DataDirectory);
        Paths = new NodePaths(options.KubeletDirectory);
        Attacher = new VolumeAttacher(Path.Combine(options.DataDirectory, "attach"),
            options.SessionHolderSocket is { } holder ? new SessionHolderClient(holder) : null,
            loggerFactory.CreateLogger<VolumeAttacher>());
        if (options is { SiteLinkCertificate: { } certificate, SiteLinkKey: { } key, SiteLinkAuthority: { } authority })
        {
            SiteLinkTls = SiteLinkTls.FromFiles(certificate, key, authority);
        }
    }

    public Driver Driver { get; }

    private DriverOptions Options => Driver.Options;

    public NbdEndpoint NbdEndpoint { get; }

    public NodePaths Paths { get; }

    public VolumeAttacher Attacher { get; }

    /// <summary>The site link's TLS material from the serve flags, or null when not given.</summary>
    public SiteLinkTls? SiteLinkTls { get; }

    /// <summary>Takes the data directory's lock (one driver per directory), opens the engine
    /// (which recovers its journals) and the state store, removes engine volumes that an
    /// interrupted create or delete left without a row (see <see cref="StateStore"/>'s
    /// invariant), serves again the node's attachments the session holder kept (their pods'
    /// I/O waits meanwhile, so this comes first), and starts serving volumes over NBD.</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Options.DataDirectory);
        _dataLock = LockDataDirectory(Options.DataDirectory);
        var engine = StorageEngine.Open(Path.Combine(Options.DataDirectory, "engine"), new EngineOptions { LoggerFactory = _loggerFactory });
        _engine = engine;
        var state = StateStore.Open(Path.Combine(Options.DataDirectory, "state.db"));
        _state = state;
        var known = state.VolumeIds();
        foreach (var volume in engine.Volumes.Where(v => !known.Contains(v.Id)))
        {
            LogLeftover(volume.Id);
            engine.DeleteVolume(volume.Id);
        }
        var knownSnapshots = state.ListSnapshots().Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        // Only snapshots taken on request are the CSI rows' to account for; the engine and
        // replication keep theirs by their own records (see SnapshotPurpose).
        foreach (var snapshot in engine.Snapshots.Where(s => s.Purpose == SnapshotPurpose.User && !knownSnapshots.Contains(s.Id)))
        {
            LogLeftover(snapshot.Id);
            engine.DeleteSnapshot(snapshot.Id);
        }
        // Before the attachments and the NBD server serve a write: the manager makes each
        // replication's volumes read-only or writable as its recorded role says, and a primary
        // asks its peer whether it was superseded meanwhile.
        _replication = new ReplicationManager(engine, state, new VolumeRows(state, Driver.Clock), new ReplicationManagerOptions
        {
            SiteId = Options.SiteId ?? Options.NodeId,
            SiteAddress = Options.SiteLinkAdvertise ?? Options.SiteLinkAddress,
            SiteLinkServerName = Options.SiteLinkServerName,
            OwnerTag = Driver.OwnerTag,
            DefaultTls = SiteLinkTls,
        }, _loggerFactory);
        await _replication.CheckInAsync(cancellationToken);
        await Attacher.ResumeAsync(state.Stagings(), engine);
        // A volume published read-only by the controller is exported read-only; snapshots are
        // exported read-only too, for backups that read them (copy-snapshot, SnapshotMetadata).
        _nbd = new NbdServer(new NbdServerOptions
        {
            Endpoints = [NbdEndpoint],
            Exports = new NbdCompositeExportCatalog(
                new VolumeExportCatalog(engine, id => state.Publications(id).Any(p => p.ReadOnly)),
                new SnapshotExportCatalog(engine)),
            LoggerFactory = _loggerFactory,
        });
        await _nbd.StartAsync(cancellationToken);
        _replication.Start();
        Driver.Serve(engine, state, _replication);
        LogLoaded(known.Count, Options.DataDirectory, NbdEndpoint.ToString());
    }

    /// <summary>After the controller grew a volume: a device attached for it on this node shows the
    /// new size at once (all a block volume needs; a file system grows at NodeExpandVolume, which
    /// shows the device the size again should this fail).</summary>
    private void ShowGrownVolume(string volumeId)
    {
        if (Driver.State.FindStaging(volumeId) is not { } staging)
        {
            return;
        }
        try
        {
            Attacher.Refresh(new Attachment(staging.Device, staging.FuseDirectory));
        }
        catch (IOException e)
        {
            LogDeviceNotGrown(volumeId, staging.Device, e.Message);
        }
    }

    /// <summary>
    /// Stops serving the node's attachments before the engine closes. An attachment the session
    /// holder keeps just waits for the next csidriver (the kernel queues its requests); one it
    /// does not keep ends with this process, so the kernel first writes back what the staged
    /// file systems still hold in memory (through us, while we still serve), or it would be lost.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Attacher.ServesUnprotectedSessions && !await HostSync.SyncAsync(TimeSpan.FromSeconds(30)))
        {
            LogSyncTimedOut();
        }
        await Attacher.StopAsync();
        if (_nbd is not null)
        {
            await _nbd.DisposeAsync();
        }
        if (_replication is not null)
        {
            await _replication.DisposeAsync();
        }
        _state?.Dispose();
        _engine?.Dispose();
        _dataLock?.Dispose();
    }

    /// <summary>An exclusive lock on <c>driver.lock</c>: two engines on one directory would
    /// corrupt each other's journals. The kernel drops it when the process ends.</summary>
    private static FileStream LockDataDirectory(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, "driver.lock");
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"data directory {dataDirectory} is in use by another csidriver ({path} is locked)", e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "volume {VolumeId} grew, but its attached device {Device} still shows the old size: {Reason}")]
    private partial void LogDeviceNotGrown(string volumeId, string device, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "staged file systems did not finish writing back within 30 s; unflushed data on them may be lost")]
    private partial void LogSyncTimedOut();

    [LoggerMessage(Level = LogLevel.Warning, Message = "removing {Id} from the engine: an interrupted create or delete left it without a record")]
    private partial void LogLeftover(string id);

    [LoggerMessage(Level = LogLevel.Information, Message = "loaded {VolumeCount} volumes from {DataDirectory}; serving them over NBD on {NbdEndpoint}")]
    private partial void LogLoaded(int volumeCount, string dataDirectory, string nbdEndpoint);
}
