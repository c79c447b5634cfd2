using CsiDriver.Engine;
using CsiDriver.Rpc;
using Formation.SiteLink.V1;

namespace CsiDriver.Replication;

/// <summary>The site-link service this site serves on --site-link-address: the receiving end
/// of Replicate, GetRole for a backup deciding whether it may promote, and Fence for a backup
/// that is being promoted.</summary>
public sealed class SiteLinkService(ReplicationManager manager, StorageEngine engine, Microsoft.Extensions.Logging.ILoggerFactory loggerFactory)
{
    private readonly ReplicaReceiver _receiver = new(manager, engine, loggerFactory);

    public ServiceBinding Binding() => new ServiceBinding(SiteLinkProtocol.Service) { TranslateException = SiteLinkErrors.Translate }
        .DuplexStreaming<ShipperMessage, ReceiverMessage>("Replicate", _receiver.RunAsync, ShipperMessageDecoder.Decode)
        .Unary<GetRoleRequest, GetRoleResponse>("GetRole", GetRoleAsync)
        .Unary<LocateRequest, LocateResponse>("Locate", Locate)
        .Unary<FenceRequest, FenceResponse>("Fence", Fence);

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
        // The asking site names the replication by its own id; this site's copy has this node's.
        var role = manager.RoleOf(OwnedIds.Rebase(request.ReplicationId, manager.OwnerTag));
        return Task.FromResult(new GetRoleResponse
        {
            ProtocolVersion = SiteLinkProtocol.CurrentVersion,
            Role = SiteLinkProtocol.ToWire(role?.Role),
            SiteId = manager.SiteId,
            Epoch = role?.Epoch ?? 0,
        });
    }

    private Task<FenceResponse> Fence(FenceRequest request, CallContext context)
    {
        SiteLinkProtocol.CheckVersion(request.ProtocolVersion);
        if (request.ReplicationId.Length == 0 || request.SiteId.Length == 0 || request.Epoch <= 0)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"Fence needs a replication_id, a site_id and an epoch above 0 (got '{request.ReplicationId}', '{request.SiteId}', {request.Epoch})");
        }
        var fenced = manager.Fence(OwnedIds.Rebase(request.ReplicationId, manager.OwnerTag), request.Epoch, request.SiteId);
        var response = new FenceResponse { ProtocolVersion = SiteLinkProtocol.CurrentVersion, Epoch = fenced.Epoch };
        foreach (var (volumeId, sequence) in fenced.LastSequences)
        {
            response.LastSequences[volumeId] = sequence;
        }
        return Task.FromResult(response);
    }
}
