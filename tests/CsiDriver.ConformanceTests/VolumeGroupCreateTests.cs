using CsiAddons.VolumeGroup;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using static CsiDriver.ConformanceTests.VolumeGroupSteps;

namespace CsiDriver.ConformanceTests;

/// <summary>volumegroup.Controller/CreateVolumeGroup (csi-addons spec, volumegroup/README.md):
/// groups with and without volumes, idempotency by name, and the error table.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class VolumeGroupCreateTests : IClassFixture<CsiAddonsDriverFixture>, IDisposable
{
    private readonly CsiAddonsDriverFixture _fixture;
    private readonly CsiAddonsClient _addons;

    public VolumeGroupCreateTests(CsiAddonsDriverFixture fixture)
    {
        _fixture = fixture;
        _addons = new CsiAddonsClient(fixture.CsiAddonsSocketPath);
    }

    public void Dispose() => _addons.Dispose();

    [Fact]
    public async Task Creates_a_group_holding_the_listed_volumes_as_csi_reports_them()
    {
        var first = await _fixture.Csi.CreateAsync("vg-member");
        var second = await _fixture.Csi.CreateAsync("vg-member", requiredBytes: 2 * Volumes.GiB);

        var group = await _addons.CreateGroupAsync(first.VolumeId, second.VolumeId);

        Assert.StartsWith("vg-", group.VolumeGroupId);
        Assert.Equal(Sorted(first.VolumeId, second.VolumeId), group.MemberIds());
        // Each member is the csi.v1.Volume the CSI Controller reports for it.
        Assert.Equal(first, group.Volumes.Single(v => v.VolumeId == first.VolumeId));
        Assert.Equal(second, group.Volumes.Single(v => v.VolumeId == second.VolumeId));
        Assert.Equal(2 * Volumes.GiB, group.Volumes.Single(v => v.VolumeId == second.VolumeId).CapacityBytes);
    }

    [Fact]
    public async Task Creates_an_empty_group()
    {
        // Spec: "To support the creation of an empty group, this list can be empty."
        var group = await _addons.CreateGroupAsync();

        Assert.StartsWith("vg-", group.VolumeGroupId);
        Assert.Empty(group.Volumes);
        Assert.Empty((await _addons.GetGroupAsync(group.VolumeGroupId)).Volumes);
    }

    [Fact]
    public async Task Repeating_a_create_returns_the_same_group()
    {
        var ids = await _fixture.Csi.CreateVolumesAsync(2);
        var request = GroupRequest(ids[0], ids[1]);

        var created = (await _addons.CreateVolumeGroup(request)).VolumeGroup;
        // The same volumes in another order, one listed twice, are the same request.
        var repeated = (await _addons.CreateVolumeGroup(new CreateVolumeGroupRequest
        {
            Name = request.Name,
            VolumeIds = { ids[1], ids[0], ids[1] },
        })).VolumeGroup;

        Assert.Equal(created, repeated);
        Assert.Equal(Sorted(ids[0], ids[1]), repeated.MemberIds());
    }

    [Fact]
    public async Task The_same_name_with_other_volumes_is_already_exists()
    {
        var ids = await _fixture.Csi.CreateVolumesAsync(3);
        var request = GroupRequest(ids[0], ids[1]);
        var created = (await _addons.CreateVolumeGroup(request)).VolumeGroup;

        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => _addons.CreateVolumeGroup(request.Clone().With(r => r.VolumeIds.Add(ids[2]))));
        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => _addons.CreateVolumeGroup(request.Clone().With(r => r.VolumeIds.RemoveAt(1))));

        // Neither refused request changed the group nor took the third volume.
        Assert.Equal(Sorted(ids[0], ids[1]), (await _addons.GetGroupAsync(created.VolumeGroupId)).MemberIds());
        Assert.Equal([ids[2]], (await _addons.CreateGroupAsync(ids[2])).MemberIds());
    }

    [Fact]
    public async Task The_same_name_with_other_parameters_is_already_exists()
    {
        // Keys under csi.storage.k8s.io/ are informational and accepted; their values still
        // make the request what it is.
        var request = GroupRequest().With(r => r.Parameters["csi.storage.k8s.io/volumegroup/name"] = "orders");
        await _addons.CreateVolumeGroup(request);

        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => _addons.CreateVolumeGroup(
            request.Clone().With(r => r.Parameters["csi.storage.k8s.io/volumegroup/name"] = "stock")));
    }

    [Fact]
    public async Task A_missing_name_is_invalid_argument()
    {
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => _addons.CreateVolumeGroup(GroupRequest().With(r => r.Name = "")));
    }

    [Fact]
    public async Task Unsupported_parameters_are_invalid_argument_and_create_nothing()
    {
        var volumeId = (await _fixture.Csi.CreateVolumesAsync(1))[0];
        var request = GroupRequest(volumeId).With(r => r.Parameters["replicationPolicy"] = "async");

        var failure = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => _addons.CreateVolumeGroup(request));

        Assert.Contains("replicationPolicy", failure.Message);
        // The name is still free for a create the driver supports, and the volume was not moved.
        var group = (await _addons.CreateVolumeGroup(request.Clone().With(r => r.Parameters.Clear()))).VolumeGroup;
        Assert.Equal([volumeId], group.MemberIds());
    }

    [Fact]
    public async Task An_empty_volume_id_is_invalid_argument()
    {
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => _addons.CreateVolumeGroup(GroupRequest("")));
    }

    [Fact]
    public async Task An_unknown_volume_is_not_found_and_moves_nothing()
    {
        var known = (await _fixture.Csi.CreateVolumesAsync(1))[0];
        var request = GroupRequest(known, "vol-never-created-" + Guid.NewGuid().ToString("N")[..8]);

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => _addons.CreateVolumeGroup(request));

        // Nothing was created under the name and the known volume is still free to group.
        var group = (await _addons.CreateVolumeGroup(request.Clone().With(r => r.VolumeIds.RemoveAt(1)))).VolumeGroup;
        Assert.Equal([known], group.MemberIds());
    }

    [Fact]
    public async Task A_volume_in_another_group_is_failed_precondition()
    {
        // LIMIT_VOLUME_TO_ONE_VOLUME_GROUP: a volume is in at most one volume group.
        var ids = await _fixture.Csi.CreateVolumesAsync(2);
        var owner = await _addons.CreateGroupAsync(ids[0]);

        var failure = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => _addons.CreateVolumeGroup(GroupRequest(ids[0], ids[1])));

        Assert.Contains(owner.VolumeGroupId, failure.Message);
        Assert.Equal([ids[0]], (await _addons.GetGroupAsync(owner.VolumeGroupId)).MemberIds());
        Assert.Equal([ids[1]], (await _addons.CreateGroupAsync(ids[1])).MemberIds());
    }

    [Fact]
    public async Task A_volume_in_a_storage_class_consistency_group_is_failed_precondition()
    {
        // Taking it out would silently break the order its StorageClass asked for.
        var request = Volumes.Request(Volumes.UniqueName("cg-member")).With(r => r.Parameters["consistencyGroup"] = "orders-" + Guid.NewGuid().ToString("N")[..8]);
        var volume = (await _fixture.Csi.CreateVolume(request)).Volume;

        var failure = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => _addons.CreateVolumeGroup(GroupRequest(volume.VolumeId)));

        Assert.Contains(request.Parameters["consistencyGroup"], failure.Message);
    }

    [Fact]
    public async Task Concurrent_creates_of_one_name_make_one_group()
    {
        // Each concurrent call either completes with the one group or is ABORTED by the
        // operation lock; never do two groups come out of one name.
        for (var round = 0; round < 10; round++)
        {
            var ids = await _fixture.Csi.CreateVolumesAsync(2);
            var request = GroupRequest(ids[0], ids[1]);
            var outcomes = await Task.WhenAll(Enumerable.Range(0, 3).Select(async _ =>
            {
                try
                {
                    return (await _addons.CreateVolumeGroup(request)).VolumeGroup.VolumeGroupId;
                }
                catch (RpcException e) when (e.Status == StatusCode.Aborted)
                {
                    return null;
                }
            }));
            var created = (await _addons.CreateVolumeGroup(request)).VolumeGroup;
            Assert.All(outcomes.Where(id => id is not null), id => Assert.Equal(created.VolumeGroupId, id));
            Assert.Equal(Sorted(ids[0], ids[1]), created.MemberIds());
        }
    }
}
