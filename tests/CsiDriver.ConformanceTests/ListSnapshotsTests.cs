using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>ListSnapshots (LIST_SNAPSHOTS): every snapshot or a filtered few, paged through tokens
/// the driver issued.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class ListSnapshotsTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    private async Task<(Volume Volume, List<Snapshot> Snapshots)> VolumeWithSnapshotsAsync(string purpose, int count)
    {
        var volume = await Csi.CreateAsync(purpose, requiredBytes: 4 * Volumes.MiB);
        var snapshots = new List<Snapshot>();
        for (var i = 0; i < count; i++)
        {
            snapshots.Add(await Csi.SnapshotAsync(volume.VolumeId, purpose));
        }
        return (volume, snapshots);
    }

    private static List<string> Ids(IEnumerable<Snapshot> snapshots) => snapshots.Select(s => s.SnapshotId).Order(StringComparer.Ordinal).ToList();

    [Fact]
    public async Task A_created_snapshot_is_listed_as_created()
    {
        var (_, snapshots) = await VolumeWithSnapshotsAsync("listsnap", 1);

        var listed = await Csi.ListAllSnapshotsAsync();

        Assert.Single(listed, s => s.Equals(snapshots[0]));
    }

    [Fact]
    public async Task Without_max_entries_one_page_holds_everything()
    {
        var (_, snapshots) = await VolumeWithSnapshotsAsync("listsnap-unpaged", 2);

        var response = await Csi.ListSnapshots(new ListSnapshotsRequest());

        Assert.Empty(response.NextToken);
        Assert.Subset(Ids(response.Entries.Select(e => e.Snapshot)).ToHashSet(), Ids(snapshots).ToHashSet());
    }

    [Fact]
    public async Task Filtering_by_snapshot_id_returns_that_snapshot_alone()
    {
        var (_, snapshots) = await VolumeWithSnapshotsAsync("listsnap-by-id", 2);

        var listed = await Csi.ListAllSnapshotsAsync(new ListSnapshotsRequest { SnapshotId = snapshots[1].SnapshotId });

        Assert.Equal([snapshots[1]], listed);
    }

    [Fact]
    public async Task An_unknown_snapshot_id_lists_nothing_and_is_no_error()
    {
        var response = await Csi.ListSnapshots(new ListSnapshotsRequest { SnapshotId = Snapshots.NeverCreated() });

        Assert.Empty(response.Entries);
        Assert.Empty(response.NextToken);
    }

    [Fact]
    public async Task Filtering_by_source_volume_returns_exactly_its_snapshots()
    {
        var (volume, mine) = await VolumeWithSnapshotsAsync("listsnap-mine", 3);
        await VolumeWithSnapshotsAsync("listsnap-theirs", 2);

        var listed = await Csi.ListAllSnapshotsAsync(new ListSnapshotsRequest { SourceVolumeId = volume.VolumeId });

        Assert.Equal(Ids(mine), Ids(listed));
        Assert.All(listed, s => Assert.Equal(volume.VolumeId, s.SourceVolumeId));
        Assert.Empty(await Csi.ListAllSnapshotsAsync(new ListSnapshotsRequest { SourceVolumeId = Snapshots.NeverCreated() }));
    }

    [Fact]
    public async Task Pages_respect_max_entries_and_cover_every_snapshot_once()
    {
        var (volume, created) = await VolumeWithSnapshotsAsync("listsnap-paged", 5);

        var filtered = await Csi.ListAllSnapshotsAsync(new ListSnapshotsRequest { SourceVolumeId = volume.VolumeId }, pageSize: 2);
        var everything = await Csi.ListAllSnapshotsAsync(pageSize: 2);

        Assert.Equal(Ids(created), Ids(filtered));
        Assert.Equal(everything.Count, everything.Select(s => s.SnapshotId).Distinct().Count());
        Assert.Subset(Ids(everything).ToHashSet(), Ids(created).ToHashSet());
    }

    [Fact]
    public async Task A_page_of_two_sets_a_token_when_more_remain()
    {
        // spec: max_entries — "If the actual number of entries is more than this number, the Plugin
        // MUST set next_token".
        var (volume, _) = await VolumeWithSnapshotsAsync("listsnap-token", 3);

        var first = await Csi.ListSnapshots(new ListSnapshotsRequest { SourceVolumeId = volume.VolumeId, MaxEntries = 2 });

        Assert.Equal(2, first.Entries.Count);
        Assert.NotEmpty(first.NextToken);
    }

    [Fact]
    public async Task Negative_max_entries_is_an_invalid_argument()
    {
        // spec: ListSnapshotsRequest.max_entries — "The value of this field MUST NOT be negative."
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.ListSnapshots(new ListSnapshotsRequest { MaxEntries = -1 }));
    }

    [Fact]
    public async Task A_token_the_driver_did_not_issue_is_aborted()
    {
        // spec: ListSnapshots Errors — "Invalid starting_token: 10 ABORTED".
        await RpcAssert.FailsAsync(StatusCode.Aborted, () => Csi.ListSnapshots(new ListSnapshotsRequest { StartingToken = "not-a-token-we-issued" }));
    }

    [Fact]
    public async Task A_deleted_snapshot_is_no_longer_listed()
    {
        var (volume, snapshots) = await VolumeWithSnapshotsAsync("listsnap-deleted", 2);

        await Csi.DeleteSnapshot(snapshots[0].SnapshotId);

        Assert.Equal([snapshots[1]], await Csi.ListAllSnapshotsAsync(new ListSnapshotsRequest { SourceVolumeId = volume.VolumeId }));
    }
}
