using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>ListVolumes: every volume with its status, paged through tokens the driver issued.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class ListVolumesTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    private async Task<ListVolumesResponse.Types.Entry> EntryOfAsync(string volumeId) =>
        Assert.Single(await Csi.ListAllAsync(), entry => entry.Volume.VolumeId == volumeId);

    [Fact]
    public async Task A_created_volume_is_listed_as_created()
    {
        var volume = await Csi.CreateAsync("listed", Volumes.Mount("xfs"), requiredBytes: 24 * Volumes.MiB);

        var entry = await EntryOfAsync(volume.VolumeId);

        Assert.Equal(volume, entry.Volume);
    }

    [Fact]
    [Trait(SplitDeployment.Skips, SplitDeployment.NeedsControllerPublish)]
    public async Task Entries_carry_published_nodes_and_condition()
    {
        // spec: Entry.status "MUST be specified if the LIST_VOLUMES_PUBLISHED_NODES controller
        // capability is supported"; volume_condition "MUST be specified if the VOLUME_CONDITION
        // controller capability is supported".
        var published = await Csi.CreateAsync("listed-published");
        var idle = await Csi.CreateAsync("listed-idle");
        await Csi.PublishAsync(published, fixture.NodeId);

        var publishedEntry = await EntryOfAsync(published.VolumeId);
        var idleEntry = await EntryOfAsync(idle.VolumeId);

        Assert.Equal([fixture.NodeId], publishedEntry.Status.PublishedNodeIds);
        Assert.Empty(idleEntry.Status.PublishedNodeIds);
        Assert.NotNull(publishedEntry.Status.VolumeCondition);
        Assert.False(publishedEntry.Status.VolumeCondition.Abnormal);
        Assert.NotNull(idleEntry.Status.VolumeCondition);

        await Csi.UnpublishAsync(published.VolumeId, fixture.NodeId);
        Assert.Empty((await EntryOfAsync(published.VolumeId)).Status.PublishedNodeIds);
    }

    [Fact]
    public async Task Pages_respect_max_entries_and_cover_every_volume_once()
    {
        var created = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            created.Add((await Csi.CreateAsync("paged")).VolumeId);
        }

        var pages = new List<int>();
        var ids = new List<string>();
        var token = "";
        do
        {
            var response = await Csi.ListVolumes(new ListVolumesRequest { MaxEntries = 2, StartingToken = token });
            pages.Add(response.Entries.Count);
            ids.AddRange(response.Entries.Select(e => e.Volume.VolumeId));
            token = response.NextToken;
        }
        while (token.Length > 0 && pages.Count < 1000);

        Assert.All(pages, count => Assert.InRange(count, 0, 2));
        Assert.True(pages.Count >= 3, $"five volumes in pages of two need at least three pages, got {pages.Count}");
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Subset(ids.ToHashSet(), created.ToHashSet());
    }

    [Fact]
    public async Task Without_max_entries_one_page_holds_everything()
    {
        var volume = await Csi.CreateAsync("unpaged");

        var response = await Csi.ListVolumes(new ListVolumesRequest());

        Assert.Empty(response.NextToken);
        Assert.Contains(response.Entries, entry => entry.Volume.VolumeId == volume.VolumeId);
    }

    [Fact]
    public async Task A_token_the_driver_did_not_issue_is_aborted()
    {
        // spec: ListVolumes Errors — "Invalid starting_token: 10 ABORTED".
        await RpcAssert.FailsAsync(StatusCode.Aborted, () => Csi.ListVolumes(new ListVolumesRequest { StartingToken = "not-a-token-we-issued" }));
    }

    [Fact]
    public async Task Negative_max_entries_is_an_invalid_argument()
    {
        // spec: ListVolumesRequest.max_entries — "The value of this field MUST NOT be negative."
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.ListVolumes(new ListVolumesRequest { MaxEntries = -1 }));
    }
}
