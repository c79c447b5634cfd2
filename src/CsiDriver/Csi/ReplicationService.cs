using CsiAddons.Replication;
using CsiDriver.Hosting;
using CsiDriver.Replication;
using CsiDriver.Rpc;
using CsiDriver.State;
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
    /// Enabling again with the same parameters succeeds (and finishes an enable a crash
    /// interrupted); with other parameters it is ALREADY_EXISTS: disable first to change them.
    /// The row is written before the manager starts (see StateStore's replication invariant).
    /// </summary>
    private async Task<EnableVolumeReplicationResponse> EnableVolumeReplication(EnableVolumeReplicationRequest request, CallContext context)
    {
        var source = Source.From(request);
        var settings = ReplicationSettings.Parse(request.Parameters, request.Secrets);
        using var _ = Lock(source);
        var members = RequireReplicable(source);
        if (driver.State.FindReplication(source.Id) is { } enabled)
        {
            if (enabled.SourceKind != source.Kind || !RequestFields.SameEntries(enabled.Parameters, settings.Parameters))
            {
                throw new RpcException(StatusCode.AlreadyExists,
                    $"replication of {source} is already enabled with parameters {Describe(enabled.Parameters)}; disable it before enabling it with {Describe(settings.Parameters)}");
            }
        }
        else
        {
            driver.State.InsertReplication(new EnabledReplicationRecord(
                source.Id, source.Kind, request.ReplicationId, settings.Parameters, driver.Clock.GetUtcNow()));
        }
        await driver.Replication.EnableAsync(settings.ToSpec(source, members), context.CancellationToken);
        return new EnableVolumeReplicationResponse();
    }

    /// <summary>Disabling what is not replicated succeeds, as long as the source exists. The
    /// row goes only once the manager has stopped (see StateStore's replication invariant).</summary>
    private async Task<DisableVolumeReplicationResponse> DisableVolumeReplication(DisableVolumeReplicationRequest request, CallContext context)
    {
        var source = Source.From(request);
        using var _ = Lock(source);
        var managed = IsManaged(source.Id);
        if (!managed && driver.State.FindReplication(source.Id) is null)
        {
            RequireExists(source);
            return new DisableVolumeReplicationResponse();
        }
        if (managed)
        {
            await driver.Replication.DisableAsync(source.Id, context.CancellationToken);
        }
        driver.State.DeleteReplication(source.Id);
        return new DisableVolumeReplicationResponse();
    }

    /// <summary>Makes this site primary. Without force the manager refuses while the peer is
    /// reachable and primary; with force it promotes at the last applied cut.</summary>
    private async Task<PromoteVolumeResponse> PromoteVolume(PromoteVolumeRequest request, CallContext context)
    {
        var source = Source.From(request);
        using var _ = Lock(source);
        RequireReplicated(source);
        await driver.Replication.PromoteAsync(source.Id, request.Force, context.CancellationToken);
        return new PromoteVolumeResponse();
    }

    /// <summary>Makes this site secondary: its volumes refuse writes from then on.</summary>
    private async Task<DemoteVolumeResponse> DemoteVolume(DemoteVolumeRequest request, CallContext context)
    {
        var source = Source.From(request);
        using var _ = Lock(source);
        RequireReplicated(source);
        await driver.Replication.DemoteAsync(source.Id, context.CancellationToken);
        return new DemoteVolumeResponse();
    }

    /// <summary>At a demoted old primary: takes in what diverged from the new primary; ready
    /// stays false until the replicas are a consistent image again (the CO polls).</summary>
    private async Task<ResyncVolumeResponse> ResyncVolume(ResyncVolumeRequest request, CallContext context)
    {
        var source = Source.From(request);
        using var _ = Lock(source);
        RequireReplicated(source);
        var progress = await driver.Replication.ResyncAsync(source.Id, context.CancellationToken);
        return new ResyncVolumeResponse { Ready = progress.Ready };
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
    /// (UNAVAILABLE until the other site has answered since this node started). Read-only: no lock.
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

    private static string Describe(IReadOnlyDictionary<string, string> parameters) =>
        "{" + string.Join(", ", parameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}")) + "}";
}
