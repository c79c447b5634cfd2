namespace CsiDriver.State;

/// <summary>A CSI snapshot: the name it was created under and its source. The engine holds its
/// data under the same id; the same create-first / row-second order as volumes applies.</summary>
public sealed record SnapshotRecord(string Id, string Name, string SourceVolumeId, long SizeBytes, DateTimeOffset CreatedAt);
