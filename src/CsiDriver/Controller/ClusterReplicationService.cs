using CsiAddons.Replication;
using CsiDriver.Csi;
using CsiDriver.Rpc;
using Formation.NodeLink.V1;
using Google.Protobuf;

namespace CsiDriver.Controller;

/// <summary>
/// csi-addons replication.Controller for the whole cluster: every call goes to the node owning
/// its replication_source (a volume, or a volume group with all its volumes). That node ships to
/// the other cluster; the other cluster's controller chose the node that receives
/// (<see cref="SiteLocatorService"/>), and GetReplicationDestinationInfo says which ids the
/// replicas have there.
/// </summary>
public sealed class ClusterReplicationService(NodeRouter router)
{
    public ServiceBinding Binding() =>
        new ServiceBinding(ReplicationReflection.Descriptor.Services.Single(s => s.Name == "Controller"))
            .Unary("EnableVolumeReplication", ToSource<EnableVolumeReplicationRequest, EnableVolumeReplicationResponse>())
            .Unary("DisableVolumeReplication", ToSource<DisableVolumeReplicationRequest, DisableVolumeReplicationResponse>())
            .Unary("PromoteVolume", ToSource<PromoteVolumeRequest, PromoteVolumeResponse>())
            .Unary("DemoteVolume", ToSource<DemoteVolumeRequest, DemoteVolumeResponse>())
            .Unary("ResyncVolume", ToSource<ResyncVolumeRequest, ResyncVolumeResponse>())
            .Unary("GetVolumeReplicationInfo", ToSource<GetVolumeReplicationInfoRequest, GetVolumeReplicationInfoResponse>())
            .Unary("GetReplicationDestinationInfo", ToSource<GetReplicationDestinationInfoRequest, GetReplicationDestinationInfoResponse>());

    private UnaryHandler<TRequest, TResponse> ToSource<TRequest, TResponse>()
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new() =>
        (request, context) =>
        {
            var source = ReplicationService.Source.From(request);
            var kind = source.Kind == ReplicationService.ReplicationSourceKind.Volume ? ObjectKind.Volume : ObjectKind.VolumeGroup;
            return router.ForwardToOwnerAsync<TRequest, TResponse>(kind, source.Id, request, context);
        };
}
