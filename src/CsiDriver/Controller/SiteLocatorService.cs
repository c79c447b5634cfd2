using CsiDriver.Replication;
using CsiDriver.Rpc;
using Formation.NodeLink.V1;
using Formation.SiteLink.V1;

namespace CsiDriver.Controller;

/// <summary>
/// The site link as a backup cluster's controller serves it to the other cluster: Locate only.
/// A shipping node asks it where a replication's stream goes and then streams to that node
/// directly, so no volume data passes through the controller. A replication some node already
/// receives stays there (the shipper says which node it last reached; otherwise the nodes are
/// asked); a new one goes to the node with the most free capacity that serves a site link.
/// </summary>
public sealed class SiteLocatorService(NodeRouter router, Placement placement)
{
    public ServiceBinding Binding() =>
        new ServiceBinding(SiteLinkProtocol.Service).Unary<LocateRequest, LocateResponse>("Locate", Locate);

    private async Task<LocateResponse> Locate(LocateRequest request, CallContext context)
    {
        SiteLinkProtocol.CheckVersion(request.ProtocolVersion);
        if (request.ReplicationId.Length == 0 || request.Volumes.Count == 0)
        {
            throw new RpcException(StatusCode.InvalidArgument, "Locate needs a replication_id and at least one volume");
        }
        var node = request.PreviousOwner.Length > 0
            ? router.Registry.RequireUp(request.PreviousOwner)
            : (await router.FindAsync(ObjectKind.Replication, request.ReplicationId, null, router.Registry.Known, context).ConfigureAwait(false))?.Node
              ?? placement.Choose(placement.Candidates(null).Where(n => n.Current.SiteLinkAddress is not null).ToList(),
                  request.Volumes.Sum(v => v.SizeBytes), $"the replicas of replication '{request.ReplicationId}'");
        var address = node.Current.SiteLinkAddress
            ?? throw new RpcException(StatusCode.FailedPrecondition, $"{node} receives replication '{request.ReplicationId}' but serves no site link (start it with --site-link-address)");
        return new LocateResponse { ProtocolVersion = SiteLinkProtocol.CurrentVersion, Address = address, Owner = node.Current.Owner };
    }
}
