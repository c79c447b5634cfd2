using CsiDriver.Engine;
using CsiDriver.Replication;
using CsiDriver.Rpc;
using CsiDriver.State;

namespace CsiDriver.Csi;

/// <summary>
/// What every service shares: options, the operation locks, the clock and, once
/// the host has loaded them, the engine, the state store and the replication manager. The
/// sockets open before the engine has loaded, so that Probe can say "not ready yet"; until then
/// every other call gets UNAVAILABLE.
/// </summary>
public sealed class Driver
{
    private Loaded? _loaded;

    public Driver(DriverOptions options)
    {
        Options = options;
        Budget = new ProvisioningBudget(this);
    }

    public DriverOptions Options { get; }

    public OperationLocks Locks { get; } = new();

    /// <summary>What may still be provisioned; creates and expands reserve from it.</summary>
    public ProvisioningBudget Budget { get; }

    public TimeProvider Clock { get; } = TimeProvider.System;

    /// <summary>Names this run of csidriver: a cluster node registers with it, so the controller
    /// can tell a node that restarted from one that only renewed.</summary>
    public string ServerInstance { get; } = Guid.NewGuid().ToString("N");

    /// <summary>The tag ending every id this node makes when it belongs to a cluster (see
    /// <see cref="OwnedIds"/>); null for a standalone node, whose ids carry none.</summary>
    public string? OwnerTag => Options.ControllerAddress is null ? null : OwnedIds.OwnerTagOf(Options.NodeId);

    /// <summary>A new id of <paramref name="kind"/> ("vol", "snap", "group", "vg") owned by this node.</summary>
    public string NewId(string kind) => OwnedIds.New(kind, OwnerTag);

    public bool IsReady => Volatile.Read(ref _loaded) is not null;

    public StorageEngine Engine => Current.Engine;

    public StateStore State => Current.State;

    /// <summary>Replication of this site's volumes to and from the other site.</summary>
    public ReplicationManager Replication => Current.Replication;

    /// <summary>Called once by the host when all three are loaded: from then on calls are served.</summary>
    public void Serve(StorageEngine engine, StateStore state, ReplicationManager replication) =>
        Volatile.Write(ref _loaded, new Loaded(engine, state, replication));

    private Loaded Current => Volatile.Read(ref _loaded) ?? throw new RpcException(StatusCode.Unavailable, "the driver is still loading its volumes; retry shortly");

    private sealed record Loaded(StorageEngine Engine, StateStore State, ReplicationManager Replication);
}
