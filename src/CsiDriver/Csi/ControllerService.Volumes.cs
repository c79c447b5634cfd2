using Csi.V1;
using CsiDriver.Rpc;
using CsiDriver.State;

namespace CsiDriver.Csi;

public sealed partial class ControllerService
{
    /// <summary>
    /// Idempotent by name: a repeated request whose arguments the existing volume satisfies
    /// returns that volume; one it does not satisfy gets ALREADY_EXISTS saying what differs.
    /// </summary>
    private Task<CreateVolumeResponse> CreateVolume(CreateVolumeRequest request, CallContext context)
    {
        RequestFields.RequireName(request.Name, "name");
        VolumeCapabilities.Require(request.VolumeCapabilities, "volume_capabilities");
        VolumeParameters.RequireKnown(request.Parameters, VolumeParameters.Create, "parameters");
        VolumeParameters.RequireKnown(request.MutableParameters, VolumeParameters.Mutable, "mutable_parameters");
        var group = VolumeParameters.GroupOf(request.Parameters, request.MutableParameters);
        var source = ContentSource.Of(request.VolumeContentSource, driver.State);
        var size = source is null ? CapacityRules.SizeFor(request.CapacityRange) : CapacityRules.SizeFor(request.CapacityRange, source.SizeBytes);
        if (request.AccessibilityRequirements is { Requisite.Count: > 0 } requirements
            && !requirements.Requisite.Any(IsThisNode))
        {
            throw new RpcException(StatusCode.ResourceExhausted,
                $"accessibility_requirements.requisite does not include this node ({DriverOptions.TopologyNodeKey}={driver.Options.NodeId}); volumes are created on the node that serves the request");
        }

        var capability = request.VolumeCapabilities[0];
        using var _ = driver.Locks.Acquire("volume name", request.Name);
        if (driver.State.FindVolumeByName(request.Name) is { } existing)
        {
            if (Conflict(existing, request) is { } reason)
            {
                throw new RpcException(StatusCode.AlreadyExists, $"volume '{request.Name}' exists with other arguments: {reason}");
            }
            return Task.FromResult(new CreateVolumeResponse { Volume = ToCsi(existing) });
        }
        using var reservation = driver.Budget.Reserve(size);

        var record = new VolumeRecord
        {
            Id = driver.NewId("vol"),
            Name = request.Name,
            CapacityBytes = size,
            AccessType = VolumeCapabilities.AccessTypeOf(capability),
            FsType = VolumeCapabilities.FsTypeOf(capability),
            Parameters = new Dictionary<string, string>(request.Parameters),
            MutableParameters = new Dictionary<string, string>(request.MutableParameters),
            SourceKind = source?.Kind ?? "",
            SourceId = source?.Id ?? "",
            CreatedAt = driver.Clock.GetUtcNow(),
        };
        // Engine first, row second: see StateStore's invariant.
        switch (source?.Kind)
        {
            case ContentSource.SnapshotKind:
                driver.Engine.CreateVolumeFromSnapshot(record.Id, source.Id, size, group);
                break;
            case ContentSource.VolumeKind:
                driver.Engine.CloneVolume(record.Id, source.Id, size, group);
                break;
            default:
                driver.Engine.CreateVolume(record.Id, size, group);
                break;
        }
        reservation.Commit(() => driver.State.InsertVolume(record));
        return Task.FromResult(new CreateVolumeResponse { Volume = ToCsi(record) });
    }

    private static string? Conflict(VolumeRecord existing, CreateVolumeRequest request)
    {
        if (!CapacityRules.Fits(existing.CapacityBytes, request.CapacityRange))
        {
            return $"its capacity {existing.CapacityBytes} is outside capacity_range [{request.CapacityRange?.RequiredBytes ?? 0}, {request.CapacityRange?.LimitBytes ?? 0}]";
        }
        if (request.VolumeCapabilities.Select(c => VolumeCapabilities.Mismatch(c, existing)).FirstOrDefault(m => m is not null) is { } mismatch)
        {
            return mismatch;
        }
        if (!RequestFields.SameEntries(existing.Parameters, request.Parameters))
        {
            return "its parameters differ";
        }
        if (!RequestFields.SameEntries(existing.MutableParameters, request.MutableParameters))
        {
            return "its mutable_parameters differ";
        }
        var requested = ContentSource.Describe(request.VolumeContentSource);
        var had = existing.SourceKind.Length == 0 ? "no content source" : $"{existing.SourceKind} '{existing.SourceId}'";
        return requested == had ? null : $"it was created from {had}, not {requested}";
    }

    private bool IsThisNode(Topology topology) =>
        topology.Segments.TryGetValue(DriverOptions.TopologyNodeKey, out var node) && node == driver.Options.NodeId;

    /// <summary>Deleting a volume that is gone succeeds; one still attached, or in a csi-addons
    /// volume group, is refused.</summary>
    private Task<DeleteVolumeResponse> DeleteVolume(DeleteVolumeRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeId, "volume_id");
        using var _ = driver.Locks.Acquire("volume", request.VolumeId);
        if (driver.State.FindVolume(request.VolumeId) is null)
        {
            return Task.FromResult(new DeleteVolumeResponse());
        }
        if (driver.State.Publications(request.VolumeId) is { Count: > 0 } publications)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"volume '{request.VolumeId}' is still published to node(s) {string.Join(", ", publications.Select(p => p.NodeId))}");
        }
        // csi-addons: a volume cannot be deleted individually while it is part of a volume group.
        if (driver.Engine.FindVolume(request.VolumeId)?.ConsistencyGroup is { } group && driver.State.FindVolumeGroup(group) is not null)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"volume '{request.VolumeId}' belongs to volume group '{group}'; remove it from the group first");
        }
        // Row first, engine second: see StateStore's invariant.
        driver.State.DeleteVolume(request.VolumeId);
        driver.Engine.DeleteVolume(request.VolumeId);
        return Task.FromResult(new DeleteVolumeResponse());
    }

    /// <summary>Grows the engine volume; a volume already as large succeeds unchanged. A mount
    /// volume's file system is grown by the node afterwards.</summary>
    private Task<ControllerExpandVolumeResponse> ControllerExpandVolume(ControllerExpandVolumeRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeId, "volume_id");
        if (request.CapacityRange is null)
        {
            throw new RpcException(StatusCode.InvalidArgument, "capacity_range is required");
        }
        var size = CapacityRules.SizeFor(request.CapacityRange);
        using var _ = driver.Locks.Acquire("volume", request.VolumeId);
        var record = RequireVolume(request.VolumeId);
        if (request.VolumeCapability is not null && VolumeCapabilities.Mismatch(request.VolumeCapability, record) is { } mismatch)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"volume_capability: {mismatch}");
        }
        if (record.CapacityBytes < size)
        {
            using var reservation = driver.Budget.Reserve(size - record.CapacityBytes);
            driver.Engine.ExpandVolume(record.Id, size);
            reservation.Commit(() => driver.State.UpdateCapacity(record.Id, size));
            volumeGrown(record.Id);
        }
        return Task.FromResult(new ControllerExpandVolumeResponse
        {
            CapacityBytes = Math.Max(size, record.CapacityBytes),
            NodeExpansionRequired = record.AccessType == AccessType.Mount,
        });
    }

    private Task<ControllerGetVolumeResponse> ControllerGetVolume(ControllerGetVolumeRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeId, "volume_id");
        var record = RequireVolume(request.VolumeId);
        return Task.FromResult(new ControllerGetVolumeResponse
        {
            Volume = ToCsi(record),
            Status = new ControllerGetVolumeResponse.Types.VolumeStatus
            {
                PublishedNodeIds = { driver.State.Publications(record.Id).Select(p => p.NodeId) },
                VolumeCondition = ConditionOf(record),
            },
        });
    }

    /// <summary>Applies mutable parameters; unknown keys are refused before anything changes.</summary>
    private Task<ControllerModifyVolumeResponse> ControllerModifyVolume(ControllerModifyVolumeRequest request, CallContext context)
    {
        RequestFields.Require(request.VolumeId, "volume_id");
        if (request.MutableParameters.Count == 0)
        {
            throw new RpcException(StatusCode.InvalidArgument, "mutable_parameters is required");
        }
        VolumeParameters.RequireKnown(request.MutableParameters, VolumeParameters.Mutable, "mutable_parameters");
        using var _ = driver.Locks.Acquire("volume", request.VolumeId);
        var record = RequireVolume(request.VolumeId);
        var group = VolumeParameters.GroupOf(record.Parameters, request.MutableParameters);
        var merged = new Dictionary<string, string>(record.MutableParameters);
        foreach (var (key, value) in request.MutableParameters)
        {
            merged[key] = value;
        }
        driver.Engine.MoveVolume(record.Id, group);
        driver.State.UpdateMutableParameters(record.Id, merged);
        return Task.FromResult(new ControllerModifyVolumeResponse());
    }
}
