using Csi.V1;
using CsiDriver.Engine;
using CsiDriver.Hosting;
using CsiDriver.Rpc;
using CsiDriver.State;

namespace CsiDriver.Csi;

/// <summary>
/// csi.v1.SnapshotMetadata (changed-block tracking, alpha in CSI 1.10–1.12): streams a snapshot's
/// allocated ranges, or the ranges changed between two snapshots of one volume, from the
/// engine's chunk maps and journal (<see cref="StorageEngine.ChangedBlocks"/>). Ranges are
/// VARIABLE_LENGTH: merged runs of 64 KiB chunks, or of 4 KiB blocks where the journal still
/// holds the writes between the two snapshots. The external-snapshot-metadata sidecar calls it on
/// the CSI endpoint, after checking the plugin advertises SNAPSHOT_METADATA_SERVICE.
/// </summary>
public sealed class SnapshotMetadataService(Driver driver)
{
    /// <summary>Ranges per message when the caller leaves max_results at 0, and the most sent in
    /// one whatever it asks: about 20 bytes each, so a message stays far below gRPC's 4 MiB default.</summary>
    public const int MaxRangesPerMessage = 4096;

    public ServiceBinding Binding() =>
        new ServiceBinding(CsiReflection.Descriptor.Services.Single(s => s.Name == "SnapshotMetadata")) { TranslateException = EngineErrors.Translate }
            .ServerStreaming<GetMetadataAllocatedRequest, GetMetadataAllocatedResponse>("GetMetadataAllocated", GetMetadataAllocated)
            .ServerStreaming<GetMetadataDeltaRequest, GetMetadataDeltaResponse>("GetMetadataDelta", GetMetadataDelta);

    /// <summary>The chunks holding data in the snapshot (anything else reads as zeroes).</summary>
    private Task GetMetadataAllocated(GetMetadataAllocatedRequest request, IResponseStream<GetMetadataAllocatedResponse> responses, CallContext context)
    {
        RequestFields.Require(request.SnapshotId, "snapshot_id");
        CheckMaxResults(request.MaxResults);
        var snapshot = RequireSnapshot(request.SnapshotId, "snapshot_id");
        CheckStartingOffset(request.StartingOffset, snapshot.SizeBytes);
        var ranges = driver.Engine.AllocatedChunks(snapshot.Id);
        return Stream(ranges, request.StartingOffset, request.MaxResults, responses, context.CancellationToken, page => new GetMetadataAllocatedResponse
        {
            BlockMetadataType = BlockMetadataType.VariableLength,
            VolumeCapacityBytes = snapshot.SizeBytes,
            BlockMetadata = { page },
        });
    }

    /// <summary>The ranges that changed from the base snapshot to the later target snapshot of
    /// the same volume; capacity is the target's.</summary>
    private Task GetMetadataDelta(GetMetadataDeltaRequest request, IResponseStream<GetMetadataDeltaResponse> responses, CallContext context)
    {
        RequestFields.Require(request.BaseSnapshotId, "base_snapshot_id");
        RequestFields.Require(request.TargetSnapshotId, "target_snapshot_id");
        CheckMaxResults(request.MaxResults);
        var baseline = RequireSnapshot(request.BaseSnapshotId, "base_snapshot_id");
        var target = RequireSnapshot(request.TargetSnapshotId, "target_snapshot_id");
        if (baseline.SourceVolumeId != target.SourceVolumeId)
        {
            throw new RpcException(StatusCode.InvalidArgument,
                $"base snapshot '{baseline.Id}' is of volume '{baseline.SourceVolumeId}' and target snapshot '{target.Id}' of volume '{target.SourceVolumeId}'; a delta is between two snapshots of one volume");
        }
        if (baseline.CreatedAt > target.CreatedAt)
        {
            throw new RpcException(StatusCode.InvalidArgument,
                $"base snapshot '{baseline.Id}' was taken after target snapshot '{target.Id}'; the base must be the earlier one");
        }
        CheckStartingOffset(request.StartingOffset, target.SizeBytes);
        var delta = driver.Engine.ChangedBlocks(baseline.Id, target.Id);
        if (!delta.SharesHistory)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"snapshots '{baseline.Id}' and '{target.Id}' share no history (volume '{target.SourceVolumeId}' was deleted and created again in between), so no changed blocks can be tracked between them; take a full backup of '{target.Id}'");
        }
        return Stream(delta.Ranges, request.StartingOffset, request.MaxResults, responses, context.CancellationToken, page => new GetMetadataDeltaResponse
        {
            BlockMetadataType = BlockMetadataType.VariableLength,
            VolumeCapacityBytes = target.SizeBytes,
            BlockMetadata = { page },
        });
    }

    /// <summary>A CSI snapshot (one the engine or replication keeps for itself is not one).</summary>
    private SnapshotRecord RequireSnapshot(string id, string field) =>
        driver.State.FindSnapshot(id) ?? throw new RpcException(StatusCode.NotFound, $"{field}: snapshot '{id}' does not exist");

    private static void CheckMaxResults(int maxResults)
    {
        if (maxResults < 0)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"max_results must not be negative (got {maxResults})");
        }
    }

    private static void CheckStartingOffset(long offset, long capacity)
    {
        if (offset < 0 || offset > capacity)
        {
            throw new RpcException(StatusCode.OutOfRange, $"starting_offset {offset} is outside the snapshot's {capacity} bytes");
        }
    }

    /// <summary>
    /// Sends the ranges that end after <paramref name="startingOffset"/> (the spec's rule for
    /// resuming), at most <paramref name="maxResults"/> (or <see cref="MaxRangesPerMessage"/>) per
    /// message. At least one message goes out, so a caller learns the type and capacity even when
    /// nothing is listed.
    /// </summary>
    private static async Task Stream<TResponse>(
        IReadOnlyList<ChunkRange> ranges, long startingOffset, int maxResults, IResponseStream<TResponse> responses,
        CancellationToken ct, Func<IEnumerable<BlockMetadata>, TResponse> message)
    {
        var perMessage = maxResults > 0 ? Math.Min(maxResults, MaxRangesPerMessage) : MaxRangesPerMessage;
        var wanted = ranges.Where(r => r.End > startingOffset).Select(r => new BlockMetadata { ByteOffset = r.Offset, SizeBytes = r.Length });
        var sent = false;
        foreach (var page in wanted.Chunk(perMessage))
        {
            await responses.WriteAsync(message(page), ct).ConfigureAwait(false);
            sent = true;
        }
        if (!sent)
        {
            await responses.WriteAsync(message([]), ct).ConfigureAwait(false);
        }
    }
}
