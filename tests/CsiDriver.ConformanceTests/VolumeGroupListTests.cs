using CsiAddons.VolumeGroup;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>volumegroup.Controller/ListVolumeGroups and ControllerGetVolumeGroup (csi-addons
/// spec, volumegroup/README.md): every group with its volumes, paging, and the error tables.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class VolumeGroupListTests : IClassFixture<CsiAddonsDriverFixture>, IDisposable
{
    private readonly CsiAddonsDriverFixture _fixture;
    private readonly CsiAddonsClient _addons;

    public VolumeGroupListTests(CsiAddonsDriverFixture fixture)
    {
        _fixture = fixture;
        _addons = new CsiAddonsClient(fixture.CsiAddonsSocketPath);
    }

    public void Dispose() => _addons.Dispose();

    [Fact]
    public async Task Get_returns_the_group_with_its_volumes()
    {
        var ids = await _fixture.Csi.CreateVolumesAsync(2);
        var created = await _addons.CreateGroupAsync(ids[0], ids[1]);

        var fetched = await _addons.GetGroupAsync(created.VolumeGroupId);

        Assert.Equal(created, fetched);
    }

    [Fact]
    public async Task Get_of_an_unknown_group_is_not_found_and_a_missing_id_invalid_argument()
    {
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => _addons.GetGroupAsync("vg-never-created"));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => _addons.GetGroupAsync(""));
    }

    [Fact]
    public async Task List_reports_every_group_with_its_volumes()
    {
        var ids = await _fixture.Csi.CreateVolumesAsync(2);
        var full = await _addons.CreateGroupAsync(ids[0], ids[1]);
        var empty = await _addons.CreateGroupAsync();

        var listed = await _addons.ListAllGroupsAsync();

        Assert.Equal(full, Assert.Single(listed, g => g.VolumeGroupId == full.VolumeGroupId));
        Assert.Equal(empty, Assert.Single(listed, g => g.VolumeGroupId == empty.VolumeGroupId));
    }

    [Fact]
    public async Task Paging_reports_each_group_once()
    {
        var created = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            created.Add((await _addons.CreateGroupAsync()).VolumeGroupId);
        }

        var whole = (await _addons.ListAllGroupsAsync()).Select(g => g.VolumeGroupId).ToList();
        var paged = (await _addons.ListAllGroupsAsync(pageSize: 1)).Select(g => g.VolumeGroupId).ToList();

        Assert.Equal(whole, paged);
        Assert.Equal(paged.Count, paged.Distinct().Count());
        Assert.Subset(paged.ToHashSet(), created.ToHashSet());
        var first = await _addons.ListVolumeGroups(new ListVolumeGroupsRequest { MaxEntries = 1 });
        Assert.Single(first.Entries);
        Assert.NotEmpty(first.NextToken);
    }

    [Fact]
    public async Task A_token_not_from_list_is_aborted()
    {
        // Spec: invalid starting_token → 10 ABORTED.
        await RpcAssert.FailsAsync(StatusCode.Aborted, () => _addons.ListVolumeGroups(new ListVolumeGroupsRequest { StartingToken = "not-a-token" }));
    }

    [Fact]
    public async Task Negative_max_entries_is_invalid_argument()
    {
        // Spec: "The value of this field MUST NOT be negative."
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => _addons.ListVolumeGroups(new ListVolumeGroupsRequest { MaxEntries = -1 }));
    }
}
