using System.Text.Json;
using System.Text.Json.Serialization;

namespace CsiDriver.Engine.Metadata;

/// <summary>
/// The engine's structure: volumes, snapshots, layers and named groups. Stored as
/// <c>catalog</c> in the <see cref="MetadataFile"/> frame (magic "FCAT") with UTF-8 JSON as the
/// payload; rewritten whole (atomically) on every structural change.
/// On-disk invariant: every layer the catalog names has its data file; files of layers it does
/// not name are leftovers of an operation that did not complete and are deleted on open.
/// Frame version 2 added each snapshot's purpose. A document holding a snapshot that is not a
/// user's declares minimum compatible version 2 (a version 1 reader would judge its owner by
/// its name, which version 2 no longer promises); one without stays readable by version 1. A
/// version 1 document has no purposes: they are inferred from the names version 1 gave.
/// </summary>
internal sealed class CatalogDocument
{
    public const uint FileMagic = 0x54414346; // "FCAT"
    public const ushort Version = 2;

    /// <summary>The oldest reader that understands this document.</summary>
    [JsonIgnore]
    public ushort MinCompatibleVersion => Snapshots.Any(s => s.Purpose is not (null or SnapshotPurpose.User)) ? (ushort)2 : (ushort)1;

    public long NextLayerId { get; set; } = 1;

    public uint NextVolumeNumber { get; set; } = 1;

    public List<string> Groups { get; set; } = [];

    public List<VolumeEntry> Volumes { get; set; } = [];

    public List<LayerEntry> Layers { get; set; } = [];

    public List<SnapshotEntry> Snapshots { get; set; } = [];

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this, MetadataJson.Default.CatalogDocument);

    public static CatalogDocument Parse(ReadOnlySpan<byte> payload, string path)
    {
        try
        {
            return JsonSerializer.Deserialize(payload, MetadataJson.Default.CatalogDocument)
                ?? throw new CorruptionException($"{path}: empty catalog");
        }
        catch (JsonException e)
        {
            throw new CorruptionException($"{path}: {e.Message}", e);
        }
    }
}

/// <param name="Group">Named consistency group, or null for a group of one.</param>
internal sealed record VolumeEntry(string Id, uint Number, string? Group, long SizeBytes, bool ReadOnly, long TopLayer, long JoinedSequence);

/// <param name="Parent">Parent layer id, 0 for none.</param>
internal sealed record LayerEntry(long Id, long Parent, string Journal, long StartSequence, long SizeBytes);

/// <param name="Purpose">Null in a version 1 document.</param>
internal sealed record SnapshotEntry(
    string Id, string VolumeId, long Layer, long SizeBytes, DateTimeOffset CreatedAt, long Sequence, string? Group,
    [property: JsonConverter(typeof(JsonStringEnumConverter<SnapshotPurpose>))] SnapshotPurpose? Purpose = null)
{
    /// <summary>The names version 1 gave the snapshots it kept for itself (see docs/formats.md).</summary>
    private const string LegacyResyncSourcePrefix = "repl-sync-";
    private const string LegacyReplicationPrefix = "repl-";

    /// <summary>The purpose stored, or for a version 1 entry the one its name meant then.</summary>
    public SnapshotPurpose PurposeOrLegacy() => Purpose ?? Id switch
    {
        _ when Id == ReplicaApplier.ProtectiveSnapshotId(VolumeId) => SnapshotPurpose.ResyncProtection,
        _ when Id.StartsWith(LegacyResyncSourcePrefix, StringComparison.Ordinal) => SnapshotPurpose.ResyncSource,
        _ when Id.StartsWith(LegacyReplicationPrefix, StringComparison.Ordinal) => SnapshotPurpose.ReplicationImage,
        _ => SnapshotPurpose.User,
    };
}

/// <summary>
/// How far each group's journal is reflected in durable data files and chunk maps, where
/// each journal consumer stands, and a replica group's state at the cut. Stored as
/// <c>checkpoint</c> (frame magic "FCHK", JSON payload).
/// On-disk invariant: it is written only after every data file and chunk map it covers has
/// been synced, so replaying each journal from its sequence + 1 rebuilds the state.
/// Frame version 2 added the replica state; a document holding one declares minimum compatible
/// version 2 (a version 1 reader would drop the replica position and resync mark), one without
/// stays readable by version 1.
/// </summary>
internal sealed class CheckpointDocument
{
    public const uint FileMagic = 0x4B484346; // "FCHK"
    public const ushort Version = 2;

    /// <summary>The oldest reader that understands this document.</summary>
    [JsonIgnore]
    public ushort MinCompatibleVersion => Journals.Any(j => j.Replica != null) ? (ushort)2 : (ushort)1;

    public List<CheckpointEntry> Journals { get; set; } = [];

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this, MetadataJson.Default.CheckpointDocument);

    public static CheckpointDocument Parse(ReadOnlySpan<byte> payload, string path)
    {
        try
        {
            return JsonSerializer.Deserialize(payload, MetadataJson.Default.CheckpointDocument)
                ?? throw new CorruptionException($"{path}: empty checkpoint");
        }
        catch (JsonException e)
        {
            throw new CorruptionException($"{path}: {e.Message}", e);
        }
    }
}

/// <param name="Replica">The replica group's state at the cut, or null for a group that is no replica.</param>
internal sealed record CheckpointEntry(string Journal, long Sequence, List<ConsumerEntry> Consumers, Replication.ReplicaState? Replica = null);

internal sealed record ConsumerEntry(string Name, long Position, bool Overrun);

[JsonSerializable(typeof(CatalogDocument))]
[JsonSerializable(typeof(CheckpointDocument))]
internal sealed partial class MetadataJson : JsonSerializerContext;
