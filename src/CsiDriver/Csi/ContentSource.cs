using Csi.V1;
using CsiDriver.Rpc;
using CsiDriver.State;

namespace CsiDriver.Csi;

/// <summary>The snapshot or volume a new volume starts from, resolved against the driver's
/// records (NOT_FOUND when it does not exist).</summary>
public sealed record ContentSource(string Kind, string Id, long SizeBytes)
{
    public const string SnapshotKind = "snapshot";
    public const string VolumeKind = "volume";

    public static ContentSource? Of(VolumeContentSource? source, StateStore state) => source?.TypeCase switch
    {
        null => null,
        VolumeContentSource.TypeOneofCase.Snapshot => state.FindSnapshot(Require(source.Snapshot.SnapshotId, "snapshot_id")) is { } snapshot
            ? new ContentSource(SnapshotKind, snapshot.Id, snapshot.SizeBytes)
            : throw new RpcException(StatusCode.NotFound, $"source snapshot '{source.Snapshot.SnapshotId}' does not exist"),
        VolumeContentSource.TypeOneofCase.Volume => state.FindVolume(Require(source.Volume.VolumeId, "volume_id")) is { } volume
            ? new ContentSource(VolumeKind, volume.Id, volume.CapacityBytes)
            : throw new RpcException(StatusCode.NotFound, $"source volume '{source.Volume.VolumeId}' does not exist"),
        _ => throw new RpcException(StatusCode.InvalidArgument, "volume_content_source must name a snapshot or a volume"),
    };

    /// <summary>How a request's source reads in an ALREADY_EXISTS message.</summary>
    public static string Describe(VolumeContentSource? source) => source?.TypeCase switch
    {
        VolumeContentSource.TypeOneofCase.Snapshot => $"{SnapshotKind} '{source.Snapshot.SnapshotId}'",
        VolumeContentSource.TypeOneofCase.Volume => $"{VolumeKind} '{source.Volume.VolumeId}'",
        _ => "no content source",
    };

    private static string Require(string id, string field) =>
        id.Length > 0 ? id : throw new RpcException(StatusCode.InvalidArgument, $"volume_content_source.{field} is required");
}
