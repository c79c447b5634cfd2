namespace CsiDriver.State;

public enum AccessType
{
    Mount,
    Block,
}

/// <summary>What the driver remembers of a CSI volume beyond its data: the name it was
/// created under and the arguments that decide whether a repeated CreateVolume is the same
/// request.</summary>
public sealed record VolumeRecord
{
    public required string Id { get; init; }

    public required string Name { get; init; }

    public required long CapacityBytes { get; init; }

    public required AccessType AccessType { get; init; }

    /// <summary>File system for mount volumes; empty for block volumes.</summary>
    public string FsType { get; init; } = "";

    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    public IReadOnlyDictionary<string, string> MutableParameters { get; init; } = new Dictionary<string, string>();

    /// <summary>"snapshot" or "volume" when created from a content source, else empty.</summary>
    public string SourceKind { get; init; } = "";

    public string SourceId { get; init; } = "";

    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>A ControllerPublishVolume that took effect: the volume is attached to the node.</summary>
public sealed record PublicationRecord(string VolumeId, string NodeId, bool ReadOnly, string AccessMode);
