using CsiDriver.Engine;
using CsiDriver.Replication;
using CsiDriver.Rpc;

namespace CsiDriver.Csi;

public sealed partial class ReplicationService
{
    /// <summary>
    /// The replication manager's failures as csi-addons statuses (replication/README.md):
    /// another transition running is ABORTED; a transition that does not apply in the current
    /// role or state, or a promotion refused because the peer is primary, is
    /// FAILED_PRECONDITION; a replication the manager does not know is FAILED_PRECONDITION too
    /// (the source exists, this service checked, but it is not replicated); a peer that cannot
    /// be asked is UNAVAILABLE (retry, or promote with force). Engine failures keep their own
    /// mapping. Anything else is left to the server (INTERNAL, logged).
    /// </summary>
    private static RpcException? Translate(Exception exception) => exception switch
    {
        ReplicationBusyException e => new RpcException(StatusCode.Aborted, e.Message),
        ReplicationNotFoundException e => new RpcException(StatusCode.FailedPrecondition, e.Message + "; enable replication first"),
        ReplicationStateException or PeerIsPrimaryException => new RpcException(StatusCode.FailedPrecondition, exception.Message),
        PeerUnreachableException e => new RpcException(StatusCode.Unavailable, e.Message),
        EngineException e => EngineErrors.ToRpc(e),
        _ => null,
    };
}
