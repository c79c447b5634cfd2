using Csi.V1;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>The vocabulary of snapshot tests: snapshot requests, content sources for new volumes,
/// and ListSnapshots followed through every page.</summary>
public static class Snapshots
{
    /// <summary>An id no driver issued, for the "does not exist" rows of the error tables.</summary>
    public static string NeverCreated() => "never-created-" + Guid.NewGuid().ToString("N");

    public static CreateSnapshotRequest Request(string name, string sourceVolumeId) => new() { Name = name, SourceVolumeId = sourceVolumeId };

    public static async Task<Snapshot> SnapshotAsync(this CsiClient csi, string sourceVolumeId, string purpose = "snap")
    {
        var response = await csi.CreateSnapshot(Request(Volumes.UniqueName(purpose), sourceVolumeId));
        return response.Snapshot;
    }

    public static VolumeContentSource OfSnapshot(string snapshotId) =>
        new() { Snapshot = new VolumeContentSource.Types.SnapshotSource { SnapshotId = snapshotId } };

    public static VolumeContentSource OfVolume(string volumeId) =>
        new() { Volume = new VolumeContentSource.Types.VolumeSource { VolumeId = volumeId } };

    /// <summary>A CreateVolume request whose volume starts with the content of <paramref name="source"/>.</summary>
    public static CreateVolumeRequest VolumeFrom(string name, VolumeContentSource source, VolumeCapability? capability = null, long requiredBytes = 0, long limitBytes = 0) =>
        Volumes.Request(name, capability, requiredBytes, limitBytes).With(r => r.VolumeContentSource = source);

    public static async Task<Volume> CreateFromAsync(this CsiClient csi, string purpose, VolumeContentSource source, VolumeCapability? capability = null)
    {
        var response = await csi.CreateVolume(VolumeFrom(Volumes.UniqueName(purpose), source, capability));
        return response.Volume;
    }

    /// <summary>Every snapshot ListSnapshots reports for <paramref name="filter"/> (its token and
    /// page size are set here), following next_token for a bounded number of pages.</summary>
    public static async Task<List<Snapshot>> ListAllSnapshotsAsync(this CsiClient csi, ListSnapshotsRequest? filter = null, int pageSize = 0)
    {
        var request = filter?.Clone() ?? new ListSnapshotsRequest();
        request.MaxEntries = pageSize;
        var snapshots = new List<Snapshot>();
        for (var page = 0; page < 10_000; page++)
        {
            var response = await csi.ListSnapshots(request);
            if (pageSize > 0)
            {
                Assert.InRange(response.Entries.Count, 0, pageSize);
            }
            snapshots.AddRange(response.Entries.Select(e => e.Snapshot));
            if (response.NextToken.Length == 0)
            {
                return snapshots;
            }
            request.StartingToken = response.NextToken;
        }
        Assert.Fail("ListSnapshots kept returning a next_token after 10000 pages");
        return snapshots;
    }
}
