using Csi.V1;
using CsiDriver.Rpc;
using CsiDriver.State;
using Google.Protobuf.WellKnownTypes;
using Type = Csi.V1.GroupControllerServiceCapability.Types.RPC.Types.Type;

namespace CsiDriver.Csi;

/// <summary>
/// csi.v1.GroupController: a group snapshot is one atomic cut over the listed volumes, whether
/// or not they share a consistency group (the engine holds the groups' writers together for a
/// cut across groups). Member snapshots are ordinary snapshots carrying group_snapshot_id.
/// </summary>
public sealed class GroupControllerService(Driver driver)
{
    public ServiceBinding Binding() =>
        new ServiceBinding(CsiReflection.Descriptor.Services.Single(s => s.Name == "GroupController")) { TranslateException = EngineErrors.Translate }
            .Unary<GroupControllerGetCapabilitiesRequest, GroupControllerGetCapabilitiesResponse>("GroupControllerGetCapabilities", GetCapabilities)
            .Unary<CreateVolumeGroupSnapshotRequest, CreateVolumeGroupSnapshotResponse>("CreateVolumeGroupSnapshot", Create)
            .Unary<DeleteVolumeGroupSnapshotRequest, DeleteVolumeGroupSnapshotResponse>("DeleteVolumeGroupSnapshot", Delete)
            .Unary<GetVolumeGroupSnapshotRequest, GetVolumeGroupSnapshotResponse>("GetVolumeGroupSnapshot", Get);

    internal static Task<GroupControllerGetCapabilitiesResponse> GetCapabilities(GroupControllerGetCapabilitiesRequest request, CallContext context) =>
        Task.FromResult(new GroupControllerGetCapabilitiesResponse
        {
            Capabilities =
            {
                new GroupControllerServiceCapability
                {
                    Rpc = new GroupControllerServiceCapability.Types.RPC { Type = Type.CreateDeleteGetVolumeGroupSnapshot },
                },
            },
        });

    /// <summary>Idempotent by name: the same name and the same source volumes return the same
    /// group snapshot; the same name with other sources is ALREADY_EXISTS.</summary>
    private Task<CreateVolumeGroupSnapshotResponse> Create(CreateVolumeGroupSnapshotRequest request, CallContext context)
    {
        RequestFields.RequireName(request.Name, "name");
        if (request.SourceVolumeIds.Count == 0 || request.SourceVolumeIds.Any(string.IsNullOrEmpty))
        {
            throw new RpcException(StatusCode.InvalidArgument, "source_volume_ids is required and may not hold empty ids");
        }
        if (request.SourceVolumeIds.Distinct().Count() != request.SourceVolumeIds.Count)
        {
            throw new RpcException(StatusCode.InvalidArgument, "source_volume_ids lists a volume more than once");
        }
        VolumeParameters.RequireKnown(request.Parameters, [], "parameters");
        var sources = request.SourceVolumeIds.Order(StringComparer.Ordinal).ToList();

        using var _ = driver.Locks.Acquire("group snapshot name", request.Name);
        if (driver.State.FindGroupSnapshotByName(request.Name) is { } existing)
        {
            var members = driver.State.GroupMembers(existing.Id);
            if (!members.Select(m => m.SourceVolumeId).Order(StringComparer.Ordinal).SequenceEqual(sources))
            {
                throw new RpcException(StatusCode.AlreadyExists,
                    $"group snapshot '{request.Name}' exists with source volumes {string.Join(", ", members.Select(m => m.SourceVolumeId).Order(StringComparer.Ordinal))}");
            }
            return Task.FromResult(new CreateVolumeGroupSnapshotResponse { GroupSnapshot = ToCsi(existing, members) });
        }
        foreach (var volumeId in sources)
        {
            if (driver.State.FindVolume(volumeId) is null)
            {
                throw new RpcException(StatusCode.NotFound, $"source volume '{volumeId}' does not exist");
            }
        }

        var group = new GroupSnapshotRecord(driver.NewId("group"), request.Name, driver.Clock.GetUtcNow());
        var cut = sources.Select(volumeId => (VolumeId: volumeId, SnapshotId: driver.NewId("snap"))).ToList();
        // Engine first, rows second (one transaction), as for single snapshots.
        var snapshots = driver.Engine.CreateGroupSnapshot(cut);
        var records = snapshots
            .Select(s => new SnapshotRecord(s.Id, $"{request.Name}/{s.VolumeId}", s.VolumeId, s.SizeBytes, s.CreatedAt, group.Id))
            .ToList();
        driver.State.InsertGroupSnapshot(group, records);
        return Task.FromResult(new CreateVolumeGroupSnapshotResponse { GroupSnapshot = ToCsi(group, records) });
    }

    /// <summary>Deletes the group and all its members; deleting what is gone succeeds. When the
    /// CO lists snapshot_ids they must be exactly the group's members.</summary>
    private Task<DeleteVolumeGroupSnapshotResponse> Delete(DeleteVolumeGroupSnapshotRequest request, CallContext context)
    {
        if (string.IsNullOrEmpty(request.GroupSnapshotId))
        {
            throw new RpcException(StatusCode.InvalidArgument, "group_snapshot_id is required");
        }
        using var _ = driver.Locks.Acquire("group snapshot", request.GroupSnapshotId);
        if (driver.State.FindGroupSnapshot(request.GroupSnapshotId) is null)
        {
            return Task.FromResult(new DeleteVolumeGroupSnapshotResponse());
        }
        var members = driver.State.GroupMembers(request.GroupSnapshotId);
        RequireMembers(request.GroupSnapshotId, members, request.SnapshotIds);
        // Rows first, engine second: a crash in between leaves engine snapshots with no row,
        // which the driver removes at start.
        driver.State.DeleteGroupSnapshot(request.GroupSnapshotId);
        foreach (var member in members)
        {
            driver.Engine.DeleteSnapshot(member.Id);
        }
        return Task.FromResult(new DeleteVolumeGroupSnapshotResponse());
    }

    private Task<GetVolumeGroupSnapshotResponse> Get(GetVolumeGroupSnapshotRequest request, CallContext context)
    {
        if (string.IsNullOrEmpty(request.GroupSnapshotId))
        {
            throw new RpcException(StatusCode.InvalidArgument, "group_snapshot_id is required");
        }
        var group = driver.State.FindGroupSnapshot(request.GroupSnapshotId)
            ?? throw new RpcException(StatusCode.NotFound, $"group snapshot '{request.GroupSnapshotId}' does not exist");
        var members = driver.State.GroupMembers(group.Id);
        RequireMembers(group.Id, members, request.SnapshotIds);
        return Task.FromResult(new GetVolumeGroupSnapshotResponse { GroupSnapshot = ToCsi(group, members) });
    }

    /// <summary>The spec lets the CO pass the member ids; a list that does not match is
    /// INVALID_ARGUMENT rather than acting on a group the CO misremembers.</summary>
    private static void RequireMembers(string groupId, IReadOnlyList<SnapshotRecord> members, IReadOnlyCollection<string> claimed)
    {
        if (claimed.Count > 0 && !claimed.Order(StringComparer.Ordinal).SequenceEqual(members.Select(m => m.Id).Order(StringComparer.Ordinal)))
        {
            throw new RpcException(StatusCode.InvalidArgument,
                $"snapshot_ids do not match the members of group snapshot '{groupId}': {string.Join(", ", members.Select(m => m.Id))}");
        }
    }

    private static VolumeGroupSnapshot ToCsi(GroupSnapshotRecord group, IEnumerable<SnapshotRecord> members) => new()
    {
        GroupSnapshotId = group.Id,
        CreationTime = Timestamp.FromDateTimeOffset(group.CreatedAt),
        ReadyToUse = true,
        Snapshots = { members.OrderBy(m => m.SourceVolumeId, StringComparer.Ordinal).Select(ControllerService.ToCsi) },
    };
}
