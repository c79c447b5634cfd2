using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>DeleteVolume: deleting removes the volume, deleting what is gone succeeds, and a
/// volume still published is in use.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class DeleteVolumeTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    [Fact]
    public async Task A_deleted_volume_is_gone()
    {
        var volume = await Csi.CreateAsync("delete-me");

        await Csi.DeleteVolume(volume.VolumeId);

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.ControllerGetVolume(volume.VolumeId));
        Assert.DoesNotContain(await Csi.ListAllAsync(), entry => entry.Volume.VolumeId == volume.VolumeId);
    }

    [Fact]
    public async Task Deleting_twice_succeeds()
    {
        // spec: DeleteVolume — "If a volume corresponding to the specified volume_id does not
        // exist or the artifacts associated with the volume do not exist anymore, the Plugin MUST
        // reply 0 OK."
        var volume = await Csi.CreateAsync("delete-twice");

        await Csi.DeleteVolume(volume.VolumeId);
        await Csi.DeleteVolume(volume.VolumeId);
    }

    [Fact]
    public async Task Deleting_an_unknown_volume_succeeds()
    {
        var response = await Csi.DeleteVolume("never-created-" + Guid.NewGuid().ToString("N"));

        Assert.NotNull(response);
    }

    [Fact]
    public async Task A_missing_volume_id_is_an_invalid_argument()
    {
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.DeleteVolume(""));
    }

    [Fact]
    [Trait(SplitDeployment.Skips, SplitDeployment.NeedsControllerPublish)]
    public async Task A_published_volume_is_in_use_until_unpublished()
    {
        // spec: DeleteVolume Errors — "Volume in use: 9 FAILED_PRECONDITION".
        var volume = await Csi.CreateAsync("in-use");
        await Csi.PublishAsync(volume, fixture.NodeId);

        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Csi.DeleteVolume(volume.VolumeId));
        Assert.Equal(volume.VolumeId, (await Csi.ControllerGetVolume(volume.VolumeId)).Volume.VolumeId);

        await Csi.UnpublishAsync(volume.VolumeId, fixture.NodeId);
        await Csi.DeleteVolume(volume.VolumeId);
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.ControllerGetVolume(volume.VolumeId));
    }

    [Fact]
    public async Task Deleting_a_volume_leaves_the_others()
    {
        var kept = await Csi.CreateAsync("kept");
        var deleted = await Csi.CreateAsync("deleted");

        await Csi.DeleteVolume(deleted.VolumeId);

        Assert.Equal(kept.CapacityBytes, (await Csi.ControllerGetVolume(kept.VolumeId)).Volume.CapacityBytes);
    }
}
