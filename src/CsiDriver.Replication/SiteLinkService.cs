using CsiDriver.Engine;
using CsiDriver.Engine.Replication;
using CsiDriver.Rpc;
using Formation.SiteLink.V1;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Replication;

/// <summary>The site-link service this site serves on --site-link-address: the receiving end
/// of Replicate, and GetRole for a backup deciding whether it may promote.</summary>
public sealed class SiteLinkService(ReplicationManager manager, StorageEngine engine, ILoggerFactory loggerFactory)
{
    private readonly ReplicaReceiver _receiver = new(manager, engine, loggerFactory.CreateLogger<ReplicaReceiver>());

    public ServiceBinding Binding() => new ServiceBinding(SiteLinkProtocol.Service) { TranslateException = Translate }
        .DuplexStreaming<ShipperMessage, ReceiverMessage>("Replicate", _receiver.RunAsync)
        .Unary<GetRoleRequest, GetRoleResponse>("GetRole", GetRoleAsync);

    private Task<GetRoleResponse> GetRoleAsync(GetRoleRequest request, CallContext context)
    {
        SiteLinkProtocol.CheckVersion(request.ProtocolVersion);
        if (request.ReplicationId.Length == 0)
        {
            throw new RpcException(StatusCode.InvalidArgument, "replication_id is required");
        }
        return Task.FromResult(new GetRoleResponse
        {
            ProtocolVersion = SiteLinkProtocol.CurrentVersion,
            Role = SiteLinkProtocol.ToWire(manager.RoleOf(request.ReplicationId)),
            SiteId = manager.SiteId,
        });
    }

    /// <summary>
    /// The one place the site link's failures become statuses (sitelink.proto lists them). What
    /// this site will not take is FAILED_PRECONDITION: an incompatible version, a stream for a
    /// replication that is primary or demoted here, volumes that are not replicas, and replicas
    /// not where the stream expects them (a gap, a resync in the way, one gone or writable). A
    /// message that breaks the protocol (or that the engine finds invalid or out of a volume's
    /// range) is INVALID_ARGUMENT.
    /// The backup out of space is RESOURCE_EXHAUSTED and a damaged store DATA_LOSS, so the
    /// shipper's reason tells the operator; anything else is left to the server (INTERNAL, logged).
    /// </summary>
    private static RpcException? Translate(Exception exception) => exception switch
    {
        ReplicationStateException or IncompatiblePeerException
            or ReplicaSequenceException or ReplicaResyncingException or ReplicaNotResyncingException
            or ReadOnlyVolumeException or VolumeNotFoundException => new RpcException(StatusCode.FailedPrecondition, exception.Message),
        MalformedMessageException or ArgumentException or Engine.OutOfRangeException => new RpcException(StatusCode.InvalidArgument, exception.Message),
        InsufficientSpaceException => new RpcException(StatusCode.ResourceExhausted, exception.Message),
        CorruptionException => new RpcException(StatusCode.DataLoss, exception.Message),
        _ => null,
    };
}
