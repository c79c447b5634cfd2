using CsiDriver.Engine;
using CsiDriver.Replication;
using CsiDriver.Rpc;

namespace CsiDriver.Csi;

public sealed partial class ReplicationService
{
    /// <summary>
    /// The replication manager's failures as csi-addons statuses (replication/README.md):
    /// another transition running is ABORTED; an enable repeated with other parameters is
    /// ALREADY_EXISTS (disable first); a transition that does not apply in the current
    /// role or state is FAILED_PRECONDITION; so is a promotion without force that is refused
    /// because the peer is primary or cannot be asked (the README's "cannot be promoted without
    /// force option"); so is a promotion of a fenced primary, which only a demotion and a resync
    /// clear; a replication the manager does not know is FAILED_PRECONDITION too (the
    /// source exists, this service checked, but it is not replicated). Engine failures keep
    /// their own mapping. Anything else is left to the server (INTERNAL, logged).
    /// </summary>
    private static RpcException? Translate(Exception exception) => exception switch
    {
        ReplicationBusyException e => new RpcException(StatusCode.Aborted, e.Message),
        ReplicationConflictException e => new RpcException(StatusCode.AlreadyExists, e.Message),
        ReplicationNotFoundException e => new RpcException(StatusCode.FailedPrecondition, e.Message + "; enable replication first"),
        ReplicationStateException or PeerIsPrimaryException or PeerUnreachableException or ReplicationFencedException => new RpcException(StatusCode.FailedPrecondition, exception.Message),
        // The spec's "destination info not yet available": transient, the caller retries.
        ReplicationDestinationUnknownException e => new RpcException(StatusCode.Unavailable, e.Message),
        EngineException e => EngineErrors.ToRpc(e),
        _ => null,
    };
}
