using System.Buffers.Binary;
using System.Text.Json.Nodes;
using CsiDriver.Engine.Metadata;

namespace CsiDriver.Engine.Tests;

/// <summary>A snapshot's purpose says who owns it: it is stored in the catalog (version 2), kept
/// across restarts, and read from a version 1 catalog by the names version 1 gave.</summary>
public sealed class SnapshotPurposeTests : IDisposable
{
    private static readonly EngineOptions Manual = new() { BackgroundCheckpoints = false };
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private string CatalogPath => Path.Combine(_directory.Path, "catalog");

    private StorageEngine Open() => StorageEngine.Open(_directory.Path, Manual);

    private (ushort Version, ushort MinCompatible) CatalogVersions()
    {
        var header = File.ReadAllBytes(CatalogPath).AsSpan(0, MetadataFile.HeaderSize);
        return (BinaryPrimitives.ReadUInt16LittleEndian(header[4..]), BinaryPrimitives.ReadUInt16LittleEndian(header[6..]));
    }

    [Fact]
    public void A_purpose_survives_a_restart_and_sets_the_catalogs_minimum_version()
    {
        using (var engine = Open())
        {
            engine.CreateVolume("v", 1 << 20);
            engine.CreateSnapshot("v", "asked-for");
            Assert.Equal((2, 1), CatalogVersions()); // only user snapshots: a version 1 reader still understands it
            engine.CreateSnapshot("v", "kept-by-replication", SnapshotPurpose.ReplicationImage);
            engine.CreateGroupSnapshot([("v", "one-session")], SnapshotPurpose.ResyncSource);
            Assert.Equal((2, 2), CatalogVersions());
        }
        using (var engine = Open())
        {
            Assert.Equal(SnapshotPurpose.User, engine.FindSnapshot("asked-for")?.Purpose);
            Assert.Equal(SnapshotPurpose.ReplicationImage, engine.FindSnapshot("kept-by-replication")?.Purpose);
            Assert.Equal(SnapshotPurpose.ResyncSource, engine.FindSnapshot("one-session")?.Purpose);
            engine.DeleteSnapshot("kept-by-replication");
            engine.DeleteSnapshot("one-session");
            Assert.Equal((2, 1), CatalogVersions());
        }
    }

    [Fact]
    public void A_version_1_catalog_gets_the_purposes_its_names_meant()
    {
        var protective = ReplicaApplier.ProtectiveSnapshotId("v");
        using (var engine = Open())
        {
            engine.CreateVolume("v", 1 << 20);
            engine.CreateGroupSnapshot([("v", "snap-1")]);
            engine.CreateGroupSnapshot([("v", "repl-sync-0a1b-0")]);
            engine.CreateGroupSnapshot([("v", "repl-promoted-0a1b-0")]);
            engine.CreateGroupSnapshot([("v", protective)]);
        }
        // The same catalog as version 1 wrote it: no purposes in the frame version 1 document.
        var document = JsonNode.Parse(MetadataFile.Read(CatalogPath, CatalogDocument.FileMagic, CatalogDocument.Version))!;
        foreach (var snapshot in document["Snapshots"]!.AsArray())
        {
            snapshot!.AsObject().Remove("Purpose");
        }
        MetadataFile.Write(CatalogPath, CatalogDocument.FileMagic, System.Text.Encoding.UTF8.GetBytes(document.ToJsonString()));

        using var reopened = Open();
        Assert.Equal(SnapshotPurpose.User, reopened.FindSnapshot("snap-1")?.Purpose);
        Assert.Equal(SnapshotPurpose.ResyncSource, reopened.FindSnapshot("repl-sync-0a1b-0")?.Purpose);
        Assert.Equal(SnapshotPurpose.ReplicationImage, reopened.FindSnapshot("repl-promoted-0a1b-0")?.Purpose);
        // A resync's protection with no resync running is a leftover: gone on open, as in version 1.
        Assert.Null(reopened.FindSnapshot(protective));
    }

    [Fact]
    public void A_purpose_the_engine_does_not_know_is_refused()
    {
        using var engine = Open();
        engine.CreateVolume("v", 1 << 20);
        Assert.Throws<ArgumentException>(() => engine.CreateSnapshot("v", "odd", (SnapshotPurpose)42));
        Assert.Empty(engine.Snapshots);
    }
}
