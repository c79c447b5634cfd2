using Csi.V1;
using CsiDriver.Rpc;
using CsiDriver.State;
using Google.Protobuf.WellKnownTypes;
using CsiSnapshot = Csi.V1.Snapshot;

namespace CsiDriver.Csi;

public sealed partial class ControllerService
{
    /// <summary>
    /// An engine snapshot: constant time whatever the volume's size, so ready_to_use is true at
    /// once. Idempotent by name; the same name from another source is ALREADY_EXISTS.
    /// </summary>
    private Task<CreateSnapshotResponse> CreateSnapshot(CreateSnapshotRequest request, CallContext context)
    {
        RequestFields.RequireName(request.Name, "name");
        RequestFields.Require(request.SourceVolumeId, "source_volume_id");
        VolumeParameters.RequireKnown(request.Parameters, [], "parameters");
        using var _ = driver.Locks.Acquire("snapshot name", request.Name);
        if (driver.State.FindSnapshotByName(request.Name) is { } existing)
        {
            if (existing.SourceVolumeId != request.SourceVolumeId)
            {
                throw new RpcException(StatusCode.AlreadyExists,
                    $"snapshot '{request.Name}' exists with source volume '{existing.SourceVolumeId}', not '{request.SourceVolumeId}'");
            }
            return Task.FromResult(new CreateSnapshotResponse { Snapshot = ToCsi(existing) });
        }
        using var volumeLock = driver.Locks.Acquire("volume", request.SourceVolumeId);
        var source = RequireVolume(request.SourceVolumeId);
        var id = driver.NewId("snap");
        // Engine first, row second, as for volumes: a crash in between leaves an engine
        // snapshot with no row, which the driver removes at start.
        var snapshot = driver.Engine.CreateSnapshot(source.Id, id);
        var record = new SnapshotRecord(id, request.Name, source.Id, snapshot.SizeBytes, snapshot.CreatedAt);
        driver.State.InsertSnapshot(record);
        return Task.FromResult(new CreateSnapshotResponse { Snapshot = ToCsi(record) });
    }

    /// <summary>Deleting a snapshot that is gone succeeds. A member of a group snapshot is
    /// deleted with its group (DeleteVolumeGroupSnapshot), never alone. Snapshots the engine or
    /// replication keep for themselves are no CSI snapshots: to CSI they do not exist.</summary>
    private Task<DeleteSnapshotResponse> DeleteSnapshot(DeleteSnapshotRequest request, CallContext context)
    {
        RequestFields.Require(request.SnapshotId, "snapshot_id");
        using var _ = driver.Locks.Acquire("snapshot", request.SnapshotId);
        if (driver.State.FindSnapshot(request.SnapshotId) is { } record)
        {
            if (record.GroupSnapshotId.Length > 0)
            {
                throw new RpcException(StatusCode.FailedPrecondition,
                    $"snapshot '{record.Id}' belongs to group snapshot '{record.GroupSnapshotId}'; delete the group snapshot instead");
            }
            // Row first, engine second: see StateStore's invariant.
            driver.State.DeleteSnapshot(request.SnapshotId);
        }
        if (driver.Engine.FindSnapshot(request.SnapshotId) is { Purpose: Engine.SnapshotPurpose.User })
        {
            driver.Engine.DeleteSnapshot(request.SnapshotId);
        }
        return Task.FromResult(new DeleteSnapshotResponse());
    }

    /// <summary>Filters by snapshot id or source volume; a filter that matches nothing gives an
    /// empty list, not an error.</summary>
    private Task<ListSnapshotsResponse> ListSnapshots(ListSnapshotsRequest request, CallContext context)
    {
        var matching = driver.State.ListSnapshots()
            .Where(s => request.SnapshotId.Length == 0 || s.Id == request.SnapshotId)
            .Where(s => request.SourceVolumeId.Length == 0 || s.SourceVolumeId == request.SourceVolumeId);
        var (page, next) = Pages.Take(matching, s => s.Id, request.MaxEntries, request.StartingToken, "ListSnapshots");
        var response = new ListSnapshotsResponse { NextToken = next };
        response.Entries.AddRange(page.Select(s => new ListSnapshotsResponse.Types.Entry { Snapshot = ToCsi(s) }));
        return Task.FromResult(response);
    }

    private Task<GetSnapshotResponse> GetSnapshot(GetSnapshotRequest request, CallContext context)
    {
        RequestFields.Require(request.SnapshotId, "snapshot_id");
        var record = driver.State.FindSnapshot(request.SnapshotId)
            ?? throw new RpcException(StatusCode.NotFound, $"snapshot '{request.SnapshotId}' does not exist");
        return Task.FromResult(new GetSnapshotResponse { Snapshot = ToCsi(record) });
    }

    public static CsiSnapshot ToCsi(SnapshotRecord record) => new()
    {
        GroupSnapshotId = record.GroupSnapshotId,
        SnapshotId = record.Id,
        SourceVolumeId = record.SourceVolumeId,
        SizeBytes = record.SizeBytes,
        CreationTime = Timestamp.FromDateTimeOffset(record.CreatedAt),
        ReadyToUse = true,
    };
}
