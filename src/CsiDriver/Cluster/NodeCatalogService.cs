using CsiDriver.Csi;
using CsiDriver.Engine;
using CsiDriver.NodeLink;
using CsiDriver.Replication;
using CsiDriver.Rpc;
using Formation.NodeLink.V1;

namespace CsiDriver.Cluster;

/// <summary>
/// NodeCatalog.Find on a node's node link: whether this node holds an object. The controller
/// asks it for ids that do not say their owner and for names that must be unique among the
/// nodes a new object could go to.
/// </summary>
public sealed class NodeCatalogService(Driver driver)
{
    public ServiceBinding Binding() =>
        new ServiceBinding(NodeLinkProtocol.Catalog).Unary<FindRequest, FindResponse>("Find", Find);

    private Task<FindResponse> Find(FindRequest request, CallContext context)
    {
        NodeLinkProtocol.CheckVersion(request.ProtocolVersion);
        if ((request.Id.Length == 0) == (request.Name.Length == 0))
        {
            throw new RpcException(StatusCode.InvalidArgument, "Find takes exactly one of id and name");
        }
        var state = driver.State;
        var found = (request.Kind, ById: request.Id.Length > 0) switch
        {
            (ObjectKind.Volume, true) => state.FindVolume(request.Id)?.Id,
            (ObjectKind.Volume, false) => state.FindVolumeByName(request.Name)?.Id,
            (ObjectKind.Snapshot, true) => state.FindSnapshot(request.Id)?.Id,
            (ObjectKind.Snapshot, false) => state.FindSnapshotByName(request.Name)?.Id,
            (ObjectKind.GroupSnapshot, true) => state.FindGroupSnapshot(request.Id)?.Id,
            (ObjectKind.GroupSnapshot, false) => state.FindGroupSnapshotByName(request.Name)?.Id,
            (ObjectKind.VolumeGroup, true) => state.FindVolumeGroup(request.Id)?.Id,
            (ObjectKind.VolumeGroup, false) => state.FindVolumeGroupByName(request.Name)?.Id,
            (ObjectKind.ConsistencyGroup, true) => driver.Engine.Volumes.Any(v => v.ConsistencyGroup == request.Id) ? request.Id : null,
            (ObjectKind.Replication, true) => LocalReplication(request.Id),
            _ => throw new RpcException(StatusCode.InvalidArgument, $"Find cannot look up {request.Kind} by {(request.Id.Length > 0 ? "id" : "name")}"),
        };
        return Task.FromResult(new FindResponse { ProtocolVersion = NodeLinkProtocol.CurrentVersion, Found = found is not null, Id = found ?? "" });
    }

    /// <summary>This node's copy of a replication another cluster knows by <paramref name="sourceId"/>.</summary>
    private string? LocalReplication(string sourceId)
    {
        var local = OwnedIds.Rebase(sourceId, driver.OwnerTag);
        try
        {
            return driver.Replication.GetInfo(local).ReplicationId;
        }
        catch (ReplicationNotFoundException)
        {
            return null;
        }
    }
}
