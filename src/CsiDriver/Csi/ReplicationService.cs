using CsiAddons.Replication;
using CsiDriver.Replication;
using CsiDriver.Rpc;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using InfoStatus = CsiAddons.Replication.GetVolumeReplicationInfoResponse.Types.Status;

namespace CsiDriver.Csi;

/// <summary>
/// csi-addons replication.Controller on --csiaddons-endpoint (csi-addons spec,
/// replication/README.md). A replication source is a volume or a volume group; either way it
/// is replicated as one consistency group (a volume in no group is a group of one), and its
/// replication id is the source's id, the same at both sites. Every call checks its request
/// first (INVALID_ARGUMENT), then takes the source's operation lock (ABORTED while another
/// call on it runs), then checks that the source exists (NOT_FOUND) and is replicated where
/// that matters (FAILED_PRECONDITION), then asks the <see cref="ReplicationManager"/>. Every
/// call is idempotent: repeating a finished transition succeeds and changes nothing.
/// Source resolution is in .Source, parameters and secrets in .Parameters, failures in .Errors.
/// </summary>
public sealed partial class ReplicationService(Driver driver)
{
    public ServiceBinding Binding() =>
        new ServiceBinding(ReplicationReflection.Descriptor.Services.Single(s => s.Name == "Controller")) { TranslateException = Translate }
            .Unary<EnableVolumeReplicationRequest, EnableVolumeReplicationResponse>("EnableVolumeReplication", EnableVolumeReplication)
            .Unary<DisableVolumeReplicationRequest, DisableVolumeReplicationResponse>("DisableVolumeReplication", DisableVolumeReplication)
            .Unary<PromoteVolumeRequest, PromoteVolumeResponse>("PromoteVolume", PromoteVolume)
            .Unary<DemoteVolumeRequest, DemoteVolumeResponse>("DemoteVolume", DemoteVolume)
            .Unary<ResyncVolumeRequest, ResyncVolumeResponse>("ResyncVolume", ResyncVolume)
            .Unary<GetVolumeReplicationInfoRequest, GetVolumeReplicationInfoResponse>("GetVolumeReplicationInfo", GetVolumeReplicationInfo)
            .Unary<GetReplicationDestinationInfoRequest, GetReplicationDestinationInfoResponse>("GetReplicationDestinationInfo", GetReplicationDestinationInfo);

    /// <summary>
    /// Enabling again with the same parameters succeeds (and may give new TLS secrets); with
    /// other parameters it is ALREADY_EXISTS: disable first to change them. The manager records
    /// the replication, parameters and secret TLS included, only once the enable has succeeded.
    /// </summary>
    private async Task<EnableVolumeReplicationResponse> EnableVolumeReplication(EnableVolumeReplicationRequest request, CallContext context)
    {
        var source = Source.From(request);
        var settings = ReplicationSettings.Parse(request.Parameters, request.Secrets);
        using var _ = Lock(source);
        var members = RequireReplicable(source);
        await driver.Replication.EnableAsync(settings.ToSpec(source, members), context.CancellationToken);
        return new EnableVolumeReplicationResponse();
    }

    /// <summary>Disabling what is not replicated succeeds, as long as the source exists.</summary>
    private async Task<DisableVolumeReplicationResponse> DisableVolumeReplication(DisableVolumeReplicationRequest request, CallContext context)
    {
        var source = Source.From(request);
        using var _ = Lock(source);
        if (!driver.Replication.IsReplicated(source.Id))
        {
            RequireExists(source);
            return new DisableVolumeReplicationResponse();
        }
        await driver.Replication.DisableAsync(source.Id, context.CancellationToken);
        return new DisableVolumeReplicationResponse();
    }

    /// <summary>Makes this site primary. Without force the manager refuses while the peer is
    /// reachable and primary; with force it promotes at the last applied cut.</summary>
    private Task<PromoteVolumeResponse> PromoteVolume(PromoteVolumeRequest request, CallContext context) =>
        TransitionAsync(request, context, async (id, cancellation) =>
        {
            await driver.Replication.PromoteAsync(id, request.Force, cancellation);
            return new PromoteVolumeResponse();
        });

    /// <summary>Makes this site secondary: its volumes refuse writes from then on.</summary>
    private Task<DemoteVolumeResponse> DemoteVolume(DemoteVolumeRequest request, CallContext context) =>
        TransitionAsync(request, context, async (id, cancellation) =>
        {
            await driver.Replication.DemoteAsync(id, cancellation);
            return new DemoteVolumeResponse();
        });

    /// <summary>At a demoted old primary: takes in what diverged from the new primary; ready
    /// stays false until the replicas are a consistent image again (the CO polls).</summary>
    private Task<ResyncVolumeResponse> ResyncVolume(ResyncVolumeRequest request, CallContext context) =>
        TransitionAsync(request, context, async (id, cancellation) =>
            new ResyncVolumeResponse { Ready = (await driver.Replication.ResyncAsync(id, cancellation)).Ready });

    /// <summary>A transition of a replicated source: its source checked, locked and replicated
    /// here, then the manager's step on the replication of that id.</summary>
    private async Task<TResponse> TransitionAsync<TResponse>(IMessage request, CallContext context, Func<string, CancellationToken, Task<TResponse>> step)
    {
        var source = Source.From(request);
        using var _ = Lock(source);
        RequireReplicated(source);
        return await step(source.Id, context.CancellationToken);
    }

    /// <summary>Read-only, so it takes no lock: it never makes a transition wait or fail.</summary>
    private Task<GetVolumeReplicationInfoResponse> GetVolumeReplicationInfo(GetVolumeReplicationInfoRequest request, CallContext context)
    {
        var source = Source.From(request);
        RequireReplicated(source);
        var info = driver.Replication.GetInfo(source.Id);
        var response = new GetVolumeReplicationInfoResponse
        {
            LastSyncBytes = Math.Max(0, info.LastSyncBytes),
            Status = info.Health switch
            {
                ReplicationHealth.Healthy => InfoStatus.Healthy,
                ReplicationHealth.Degraded => InfoStatus.Degraded,
                _ => InfoStatus.Error,
            },
            StatusMessage = info.HealthMessage,
        };
        if (info.LastSyncTime is { } time)
        {
            response.LastSyncTime = Timestamp.FromDateTimeOffset(time);
        }
        if (info.LastSyncDuration is { } duration)
        {
            response.LastSyncDuration = Duration.FromTimeSpan(duration);
        }
        return Task.FromResult(response);
    }

    /// <summary>
    /// The ids the source has at the other site: between clusters the replicas carry the
    /// receiving node's owner tag, so they differ from the source's. A group's map holds every
    /// member (its membership cannot change while it is replicated), or the call fails
    /// (UNAVAILABLE until the other site has answered on every link once; kept across restarts). Read-only: no lock.
    /// </summary>
    private Task<GetReplicationDestinationInfoResponse> GetReplicationDestinationInfo(GetReplicationDestinationInfoRequest request, CallContext context)
    {
        var source = Source.From(request);
        RequireReplicated(source);
        var (destinationId, volumeIds) = driver.Replication.DestinationOf(source.Id);
        var destination = source.Kind == ReplicationSourceKind.Volume
            ? new ReplicationDestination { Volume = new() { VolumeId = destinationId } }
            : new ReplicationDestination { Volumegroup = new() { VolumeGroupId = destinationId, VolumeIds = { volumeIds.ToDictionary() } } };
        return Task.FromResult(new GetReplicationDestinationInfoResponse { ReplicationDestination = destination });
    }
}
