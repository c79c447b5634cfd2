using Csi.V1;
using CsiDriver.Rpc;
using CsiDriver.State;

namespace CsiDriver.Csi;

public sealed partial class ControllerService
{
    /// <summary>Key in publish_context naming the NBD export the node attaches.</summary>
    public const string ExportContextKey = "formation.csi.dev/export";

    /// <summary>
    /// Records the attachment. Repeating it with the same arguments succeeds; with other
    /// arguments it is ALREADY_EXISTS; a single-node volume attached elsewhere is
    /// FAILED_PRECONDITION. Only this node exists for this driver's volumes.
    /// </summary>
    private Task<ControllerPublishVolumeResponse> ControllerPublishVolume(ControllerPublishVolumeRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeId, "volume_id");
        RequestFields.Require(request.NodeId, "node_id");
        if (request.VolumeCapability is null)
        {
            throw new RpcException(StatusCode.InvalidArgument, "volume_capability is required");
        }
        using var _ = driver.Locks.Acquire("volume", request.VolumeId);
        var record = RequireVolume(request.VolumeId);
        RequireKnownNode(request.NodeId);
        if (VolumeCapabilities.Mismatch(request.VolumeCapability, record) is { } mismatch)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"volume_capability: {mismatch}");
        }

        var mode = request.VolumeCapability.AccessMode.Mode.ToString();
        var publications = driver.State.Publications(record.Id);
        if (publications.FirstOrDefault(p => p.NodeId == request.NodeId) is { } existing)
        {
            if (existing.ReadOnly != request.Readonly || existing.AccessMode != mode)
            {
                throw new RpcException(StatusCode.AlreadyExists,
                    $"volume '{record.Id}' is already published to node '{request.NodeId}' with readonly={existing.ReadOnly} and mode {existing.AccessMode}");
            }
            return Task.FromResult(PublishResponse(record));
        }
        if (publications.Count > 0)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"volume '{record.Id}' is published to node '{publications[0].NodeId}'; a Formation volume is attached to one node at a time");
        }
        if (driver.Options.MaxVolumesPerNode > 0
            && driver.State.Publications().Count(p => p.NodeId == request.NodeId) >= driver.Options.MaxVolumesPerNode)
        {
            throw new RpcException(StatusCode.ResourceExhausted,
                $"node '{request.NodeId}' already has the most volumes allowed ({driver.Options.MaxVolumesPerNode})");
        }
        driver.State.InsertPublication(new PublicationRecord(record.Id, request.NodeId, request.Readonly, mode));
        return Task.FromResult(PublishResponse(record));
    }

    private static ControllerPublishVolumeResponse PublishResponse(VolumeRecord record) =>
        new() { PublishContext = { [ExportContextKey] = record.Id } };

    /// <summary>Unpublishing what is not published (or a volume or node that is gone) succeeds:
    /// the volume is then safely not attached there. An empty node_id means every node.</summary>
    private Task<ControllerUnpublishVolumeResponse> ControllerUnpublishVolume(ControllerUnpublishVolumeRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeId, "volume_id");
        using var _ = driver.Locks.Acquire("volume", request.VolumeId);
        foreach (var publication in driver.State.Publications(request.VolumeId))
        {
            if (request.NodeId.Length == 0 || publication.NodeId == request.NodeId)
            {
                driver.State.DeletePublication(publication.VolumeId, publication.NodeId);
            }
        }
        return Task.FromResult(new ControllerUnpublishVolumeResponse());
    }

    /// <summary>Confirms the capabilities only when every one fits the volume as created; the
    /// message says which does not.</summary>
    private Task<ValidateVolumeCapabilitiesResponse> ValidateVolumeCapabilities(ValidateVolumeCapabilitiesRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeId, "volume_id");
        if (request.VolumeCapabilities.Count == 0)
        {
            throw new RpcException(StatusCode.InvalidArgument, "volume_capabilities is required");
        }
        var record = RequireVolume(request.VolumeId);
        var problems = request.VolumeCapabilities
            .Select(VolumeCapabilities.Unsupported)
            .Concat(request.VolumeCapabilities.Select(c => VolumeCapabilities.Mismatch(c, record)))
            .OfType<string>()
            .Distinct()
            .ToList();
        if (VolumeParameters.Unknown(request.Parameters.Keys, VolumeParameters.Create) is { Count: > 0 } unknownParameters)
        {
            problems.Add($"unknown parameter(s) {string.Join(", ", unknownParameters)}");
        }
        if (VolumeParameters.Unknown(request.MutableParameters.Keys, VolumeParameters.Mutable) is { Count: > 0 } unknownMutable)
        {
            problems.Add($"unknown mutable parameter(s) {string.Join(", ", unknownMutable)}");
        }
        if (problems.Count > 0)
        {
            return Task.FromResult(new ValidateVolumeCapabilitiesResponse { Message = string.Join("; ", problems) });
        }
        return Task.FromResult(new ValidateVolumeCapabilitiesResponse
        {
            Confirmed = new ValidateVolumeCapabilitiesResponse.Types.Confirmed
            {
                VolumeCapabilities = { request.VolumeCapabilities },
                VolumeContext = { request.VolumeContext },
                Parameters = { request.Parameters },
                MutableParameters = { request.MutableParameters },
            },
        });
    }

    private void RequireKnownNode(string nodeId)
    {
        if (nodeId != driver.Options.NodeId)
        {
            throw new RpcException(StatusCode.NotFound,
                $"node '{nodeId}' is not known to this driver (this node is '{driver.Options.NodeId}'); volumes attach on the node that owns them");
        }
    }
}
