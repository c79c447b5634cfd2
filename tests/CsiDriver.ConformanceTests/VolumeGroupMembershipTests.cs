using CsiAddons.VolumeGroup;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using static CsiDriver.ConformanceTests.VolumeGroupSteps;

namespace CsiDriver.ConformanceTests;

/// <summary>volumegroup.Controller/ModifyVolumeGroupMembership (csi-addons spec,
/// volumegroup/README.md): the list replaces the membership; and membership is the engine's
/// consistency group, which a CSI volume created with consistencyGroup set to the group's id
/// joins like any other.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class VolumeGroupMembershipTests : IClassFixture<CsiAddonsDriverFixture>, IDisposable
{
    private readonly CsiAddonsDriverFixture _fixture;
    private readonly CsiAddonsClient _addons;

    public VolumeGroupMembershipTests(CsiAddonsDriverFixture fixture)
    {
        _fixture = fixture;
        _addons = new CsiAddonsClient(fixture.CsiAddonsSocketPath);
    }

    public void Dispose() => _addons.Dispose();

    [Fact]
    public async Task The_list_replaces_the_membership()
    {
        // Spec: "New ones will be added and missing ones will be removed."
        var ids = await _fixture.Csi.CreateVolumesAsync(3);
        var group = await _addons.CreateGroupAsync(ids[0], ids[1]);

        var modified = (await _addons.SetMembersAsync(group.VolumeGroupId, ids[1], ids[2])).VolumeGroup;

        Assert.Equal(group.VolumeGroupId, modified.VolumeGroupId);
        Assert.Equal(Sorted(ids[1], ids[2]), modified.MemberIds());
        Assert.Equal(Sorted(ids[1], ids[2]), (await _addons.GetGroupAsync(group.VolumeGroupId)).MemberIds());
        // The removed volume is in no group any more: it may join another.
        Assert.Equal([ids[0]], (await _addons.CreateGroupAsync(ids[0])).MemberIds());
    }

    [Fact]
    public async Task An_empty_list_empties_the_group_and_keeps_the_volumes()
    {
        // Spec: "If no volume_ids are provided, all existing volumes will be removed from the group."
        var ids = await _fixture.Csi.CreateVolumesAsync(2);
        var group = await _addons.CreateGroupAsync(ids[0], ids[1]);

        var modified = (await _addons.SetMembersAsync(group.VolumeGroupId)).VolumeGroup;

        Assert.Empty(modified.Volumes);
        Assert.Empty((await _addons.GetGroupAsync(group.VolumeGroupId)).Volumes);
        foreach (var id in ids)
        {
            Assert.Equal(id, (await _fixture.Csi.ControllerGetVolume(id)).Volume.VolumeId);
        }
    }

    [Fact]
    public async Task Repeating_a_modification_changes_nothing_more()
    {
        var ids = await _fixture.Csi.CreateVolumesAsync(3);
        var group = await _addons.CreateGroupAsync(ids[0]);

        var first = (await _addons.SetMembersAsync(group.VolumeGroupId, ids[1], ids[2])).VolumeGroup;
        var second = (await _addons.SetMembersAsync(group.VolumeGroupId, ids[2], ids[1])).VolumeGroup;

        Assert.Equal(first, second);
        Assert.Equal(Sorted(ids[1], ids[2]), second.MemberIds());
    }

    [Fact]
    public async Task An_unknown_group_is_not_found()
    {
        var ids = await _fixture.Csi.CreateVolumesAsync(1);

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => _addons.SetMembersAsync("vg-never-created", ids[0]));

        Assert.Equal([ids[0]], (await _addons.CreateGroupAsync(ids[0])).MemberIds());
    }

    [Fact]
    public async Task An_unknown_volume_is_not_found_and_changes_nothing()
    {
        var ids = await _fixture.Csi.CreateVolumesAsync(3);
        var group = await _addons.CreateGroupAsync(ids[0], ids[1]);

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => _addons.SetMembersAsync(group.VolumeGroupId, ids[2], "vol-never-created"));

        Assert.Equal(Sorted(ids[0], ids[1]), (await _addons.GetGroupAsync(group.VolumeGroupId)).MemberIds());
    }

    [Fact]
    public async Task A_volume_of_another_group_is_failed_precondition_and_changes_nothing()
    {
        var ids = await _fixture.Csi.CreateVolumesAsync(3);
        var owner = await _addons.CreateGroupAsync(ids[0]);
        var group = await _addons.CreateGroupAsync(ids[1]);

        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => _addons.SetMembersAsync(group.VolumeGroupId, ids[0], ids[2]));

        Assert.Equal([ids[0]], (await _addons.GetGroupAsync(owner.VolumeGroupId)).MemberIds());
        Assert.Equal([ids[1]], (await _addons.GetGroupAsync(group.VolumeGroupId)).MemberIds());
    }

    [Fact]
    public async Task Missing_ids_and_unsupported_parameters_are_invalid_argument()
    {
        var group = await _addons.CreateGroupAsync();

        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => _addons.SetMembersAsync(""));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => _addons.SetMembersAsync(group.VolumeGroupId, ""));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => _addons.ModifyVolumeGroupMembership(new ModifyVolumeGroupMembershipRequest
        {
            VolumeGroupId = group.VolumeGroupId,
            Parameters = { ["flattenMode"] = "force" },
        }));
    }

    [Fact]
    public async Task A_volume_created_in_the_groups_consistency_group_is_a_member()
    {
        // The group's id names the engine consistency group its volumes share: one journal,
        // one order. A CSI volume created with consistencyGroup set to it joins that order,
        // and so the group.
        var ids = await _fixture.Csi.CreateVolumesAsync(2);
        var group = await _addons.CreateGroupAsync(ids[0], ids[1]);

        var joined = (await _fixture.Csi.CreateVolume(Volumes.Request(Volumes.UniqueName("vg-joined"))
            .With(r => r.Parameters["consistencyGroup"] = group.VolumeGroupId))).Volume;

        Assert.Equal(Sorted(ids[0], ids[1], joined.VolumeId), (await _addons.GetGroupAsync(group.VolumeGroupId)).MemberIds());
        // Replacing the list without it moves it out like any other member.
        await _addons.SetMembersAsync(group.VolumeGroupId, ids[0], ids[1]);
        Assert.Equal(Sorted(ids[0], ids[1]), (await _addons.GetGroupAsync(group.VolumeGroupId)).MemberIds());
        Assert.Equal([joined.VolumeId], (await _addons.CreateGroupAsync(joined.VolumeId)).MemberIds());
    }

    [Fact]
    public async Task Moving_a_member_with_controller_modify_volume_takes_it_out()
    {
        // ControllerModifyVolume's consistencyGroup moves the volume in the engine; the group
        // reports what the engine holds.
        var ids = await _fixture.Csi.CreateVolumesAsync(2);
        var group = await _addons.CreateGroupAsync(ids[0], ids[1]);

        await _fixture.Csi.ControllerModifyVolume(new Csi.V1.ControllerModifyVolumeRequest
        {
            VolumeId = ids[1],
            MutableParameters = { ["consistencyGroup"] = "elsewhere-" + Guid.NewGuid().ToString("N")[..8] },
        });

        Assert.Equal([ids[0]], (await _addons.GetGroupAsync(group.VolumeGroupId)).MemberIds());
    }
}
