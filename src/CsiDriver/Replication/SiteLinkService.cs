using CsiDriver.Csi;
using CsiDriver.Engine;
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
    /// The one place the site link's failures become statuses (sitelink.proto lists them): what
    /// this site will not take (an incompatible version, a stream for a replication that is
    /// primary or demoted here, volumes that are not replicas) is FAILED_PRECONDITION, a message
    /// that breaks the protocol (or that the engine finds invalid) INVALID_ARGUMENT; engine failures
    /// keep their meaning.
    /// </summary>
    private static RpcException? Translate(Exception exception) => exception switch
    {
        ReplicationStateException or IncompatiblePeerException => new RpcException(StatusCode.FailedPrecondition, exception.Message),
        MalformedMessageException or ArgumentException => new RpcException(StatusCode.InvalidArgument, exception.Message),
        EngineException engineFailure => EngineErrors.ToRpc(engineFailure),
        _ => null,
    };
}
