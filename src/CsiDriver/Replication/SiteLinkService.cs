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
        .Unary<GetRoleRequest, GetRoleResponse>("GetRole", GetRoleAsync)
        .Unary<LocateRequest, LocateResponse>("Locate", Locate);

    /// <summary>A node receives what is shipped to it: the stream comes here, and the replicas
    /// take this node's owner tag.</summary>
    private Task<LocateResponse> Locate(LocateRequest request, CallContext context)
    {
        SiteLinkProtocol.CheckVersion(request.ProtocolVersion);
        return Task.FromResult(new LocateResponse { ProtocolVersion = SiteLinkProtocol.CurrentVersion, Owner = manager.OwnerTag ?? "" });
    }

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
            // The asking site names the replication by its own id; this site's copy has this node's.
            Role = manager.RoleOf(Engine.OwnedIds.Rebase(request.ReplicationId, manager.OwnerTag)),
            SiteId = manager.SiteId,
        });
    }

    /// <summary>Engine failures keep their meaning on the link (a refused write stays FAILED_PRECONDITION).</summary>
    private static RpcException? Translate(Exception exception) => exception switch
    {
        EngineException engineFailure => EngineErrors.ToRpc(engineFailure),
        ArgumentException argument => new RpcException(StatusCode.InvalidArgument, argument.Message),
        _ => null,
    };
}
