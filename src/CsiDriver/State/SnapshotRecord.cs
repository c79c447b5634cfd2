namespace CsiDriver.State;

/// <summary>A CSI snapshot: the name it was created under and its source. The engine holds its
/// data under the same id; the same create-first / row-second order as volumes applies.</summary>
/// <param name="GroupSnapshotId">The group snapshot it was cut with, or empty.</param>
public sealed record SnapshotRecord(string Id, string Name, string SourceVolumeId, long SizeBytes, DateTimeOffset CreatedAt, string GroupSnapshotId = "");

/// <summary>A group snapshot: member snapshots of several volumes cut at one instant.</summary>
public sealed record GroupSnapshotRecord(string Id, string Name, DateTimeOffset CreatedAt);
