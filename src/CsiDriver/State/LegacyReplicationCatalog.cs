using System.Text.Json;
using System.Text.Json.Serialization;
using CsiDriver.Engine;
using CsiDriver.Engine.Metadata;
using CsiDriver.Replication;

namespace CsiDriver.State;

/// <summary>
/// <c>replication.catalog</c> in the data directory: where csidriver kept the replication
/// manager's records before schema 3 of the state store (docs/formats.md). It is the engine's
/// metadata frame (magic "FRPC") around a UTF-8 JSON array of <see cref="ReplicationRecord"/>,
/// so the engine's <see cref="MetadataFile"/> reads it. Read once, by the migration step that
/// takes it in, and deleted once that step is committed.
/// </summary>
public static class LegacyReplicationCatalog
{
    public const string FileName = "replication.catalog";
    public const uint Magic = 0x43505246; // "FRPC"

    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    /// <summary>Its records; none when there is no file.</summary>
    /// <exception cref="CorruptionException">The file fails its frame's checks or holds no record list.</exception>
    public static IReadOnlyList<ReplicationRecord> Read(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, FileName);
        if (MetadataFile.Read(path, Magic) is not { } payload)
        {
            return [];
        }
        try
        {
            return JsonSerializer.Deserialize<List<ReplicationRecord>>(payload, Json)
                ?? throw new CorruptionException($"{path}: no record list");
        }
        catch (JsonException e)
        {
            throw new CorruptionException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Removes the file (and a temporary one a crash left beside it) once taken in.</summary>
    public static void DeleteTakenIn(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, FileName);
        File.Delete(path + ".tmp");
        File.Delete(path);
    }
}
