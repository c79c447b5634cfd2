using CsiAddons.VolumeGroup;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>volumegroup.Controller/DeleteVolumeGroup (csi-addons spec, volumegroup/README.md)
/// under DO_NOT_ALLOW_VG_TO_DELETE_VOLUMES: a group is deleted only once empty, never with its
/// volumes; deleting what is gone succeeds.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class VolumeGroupDeleteTests : IClassFixture<CsiAddonsDriverFixture>, IDisposable
{
    private readonly CsiAddonsDriverFixture _fixture;
    private readonly CsiAddonsClient _addons;

    public VolumeGroupDeleteTests(CsiAddonsDriverFixture fixture)
    {
        _fixture = fixture;
        _addons = new CsiAddonsClient(fixture.CsiAddonsSocketPath);
    }

    public void Dispose() => _addons.Dispose();

    [Fact]
    public async Task A_group_with_volumes_is_failed_precondition_and_keeps_them()
    {
        var ids = await _fixture.Csi.CreateVolumesAsync(2);
        var group = await _addons.CreateGroupAsync(ids[0], ids[1]);

        var failure = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Delete(group.VolumeGroupId));

        Assert.Contains(ids[0], failure.Message);
        Assert.Equal(VolumeGroupSteps.Sorted(ids[0], ids[1]), (await _addons.GetGroupAsync(group.VolumeGroupId)).MemberIds());
    }

    [Fact]
    public async Task A_member_volume_cannot_be_deleted_individually()
    {
        // csi-addons volumegroup README: "A volume cannot be deleted individually when it is part of the group."
        var ids = await _fixture.Csi.CreateVolumesAsync(2);
        var group = await _addons.CreateGroupAsync(ids[0], ids[1]);

        var failure = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => _fixture.Csi.DeleteVolume(ids[0]));

        Assert.Contains(group.VolumeGroupId, failure.Message);
        await _addons.SetMembersAsync(group.VolumeGroupId, ids[1]);
        await _fixture.Csi.DeleteVolume(ids[0]);
    }

    [Fact]
    public async Task An_emptied_group_is_deleted_and_its_volumes_stay()
    {
        var ids = await _fixture.Csi.CreateVolumesAsync(2);
        var group = await _addons.CreateGroupAsync(ids[0], ids[1]);
        await _addons.SetMembersAsync(group.VolumeGroupId);

        await Delete(group.VolumeGroupId);

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => _addons.GetGroupAsync(group.VolumeGroupId));
        Assert.DoesNotContain(await _addons.ListAllGroupsAsync(), g => g.VolumeGroupId == group.VolumeGroupId);
        foreach (var id in ids)
        {
            Assert.Equal(id, (await _fixture.Csi.ControllerGetVolume(id)).Volume.VolumeId);
        }
    }

    [Fact]
    public async Task Deleting_a_group_that_is_gone_succeeds()
    {
        // Spec: "If a volume group corresponding to the specified volume_group_id does not
        // exist ... the Plugin MUST reply 0 OK."
        var group = await _addons.CreateGroupAsync();

        await Delete(group.VolumeGroupId);
        await Delete(group.VolumeGroupId);
        await Delete("vg-never-created");
    }

    [Fact]
    public async Task A_missing_id_is_invalid_argument()
    {
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Delete(""));
    }

    [Fact]
    public async Task The_name_of_a_deleted_group_makes_a_new_group()
    {
        var ids = await _fixture.Csi.CreateVolumesAsync(1);
        var request = VolumeGroupSteps.GroupRequest();
        var first = (await _addons.CreateVolumeGroup(request)).VolumeGroup;
        await Delete(first.VolumeGroupId);

        var second = (await _addons.CreateVolumeGroup(request.Clone().With(r => r.VolumeIds.Add(ids[0])))).VolumeGroup;

        Assert.NotEqual(first.VolumeGroupId, second.VolumeGroupId);
        Assert.Equal([ids[0]], second.MemberIds());
    }

    private Task<DeleteVolumeGroupResponse> Delete(string groupId) =>
        _addons.DeleteVolumeGroup(new DeleteVolumeGroupRequest { VolumeGroupId = groupId });
}
