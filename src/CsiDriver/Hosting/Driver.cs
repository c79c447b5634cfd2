using CsiDriver.Csi;
using CsiDriver.Engine;
using CsiDriver.Rpc;
using CsiDriver.State;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Hosting;

/// <summary>
/// What every service shares: options, the engine, the state store and the operation locks.
/// The sockets open before the engine has loaded, so that Probe can say "not ready yet";
/// until then every other call gets UNAVAILABLE.
/// </summary>
public sealed partial class Driver(DriverOptions options, ILoggerFactory loggerFactory) : IDisposable
{
    private readonly ILogger _log = loggerFactory.CreateLogger<Driver>();
    private StorageEngine? _engine;
    private StateStore? _state;

    public DriverOptions Options { get; } = options;

    public OperationLocks Locks { get; } = new();

    public TimeProvider Clock { get; init; } = TimeProvider.System;

    public bool IsReady => Volatile.Read(ref _state) is not null;

    public StorageEngine Engine => IsReady ? _engine! : throw NotReady();

    public StateStore State => Volatile.Read(ref _state) ?? throw NotReady();

    /// <summary>Opens the engine (which recovers its journals) and the state store, then
    /// removes engine volumes that an interrupted create or delete left without a row
    /// (see <see cref="StateStore"/>'s invariant).</summary>
    public void Load()
    {
        Directory.CreateDirectory(Options.DataDirectory);
        var engine = StorageEngine.Open(Path.Combine(Options.DataDirectory, "engine"));
        var state = StateStore.Open(Path.Combine(Options.DataDirectory, "state.db"));
        var known = state.VolumeIds();
        foreach (var volume in engine.Volumes.Where(v => !known.Contains(v.Id)))
        {
            LogLeftover(volume.Id);
            engine.DeleteVolume(volume.Id);
        }
        _engine = engine;
        Volatile.Write(ref _state, state);
        LogLoaded(known.Count, Options.DataDirectory);
    }

    public void Dispose()
    {
        _state?.Dispose();
        _engine?.Dispose();
    }

    private static RpcException NotReady() =>
        new(StatusCode.Unavailable, "the driver is still loading its volumes; retry shortly");

    [LoggerMessage(Level = LogLevel.Warning, Message = "removing engine volume {VolumeId}: an interrupted create or delete left it without a record")]
    private partial void LogLeftover(string volumeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "loaded {VolumeCount} volumes from {DataDirectory}")]
    private partial void LogLoaded(int volumeCount, string dataDirectory);
}
