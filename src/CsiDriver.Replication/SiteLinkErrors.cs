using CsiDriver.Engine;
using CsiDriver.Engine.Replication;
using CsiDriver.Rpc;

namespace CsiDriver.Replication;

/// <summary>
/// The one place the site link's failures become statuses (sitelink.proto lists them). What
/// this site will not take is FAILED_PRECONDITION: an incompatible version, a stream for a
/// replication that is primary, fenced or demoted here, a shipper of an older epoch, a fence of
/// a primary at the same or a newer epoch, volumes that are not replicas, and replicas
/// not where the stream expects them (a gap, a resync in the way, one gone or writable). A
/// message that breaks the protocol (or that the engine finds invalid or out of a volume's
/// range) is INVALID_ARGUMENT.
/// The backup out of space is RESOURCE_EXHAUSTED and a damaged store DATA_LOSS, so the
/// shipper's reason tells the operator; anything else is left to the server (INTERNAL, logged).
/// </summary>
public static class SiteLinkErrors
{
    /// <summary>The status of a failure the site link's handlers let through; null: not one of them.</summary>
    public static RpcException? Translate(Exception exception) => exception switch
    {
        ReplicationStateException or IncompatiblePeerException or ReplicationFencedException or StaleShipperException
            or ReplicaSequenceException or ReplicaResyncingException or ReplicaNotResyncingException
            or ReadOnlyVolumeException or VolumeNotFoundException => new RpcException(StatusCode.FailedPrecondition, exception.Message),
        MalformedMessageException or ArgumentException or Engine.OutOfRangeException => new RpcException(StatusCode.InvalidArgument, exception.Message),
        InsufficientSpaceException => new RpcException(StatusCode.ResourceExhausted, exception.Message),
        CorruptionException => new RpcException(StatusCode.DataLoss, exception.Message),
        _ => null,
    };
}
