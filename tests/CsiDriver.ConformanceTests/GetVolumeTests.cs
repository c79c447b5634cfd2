using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>ControllerGetVolume: the volume as created, where it is published, and its condition.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class GetVolumeTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    [Fact]
    public async Task Reports_the_volume_as_created()
    {
        var volume = await Csi.CreateAsync("get", Volumes.Block(), requiredBytes: 12 * Volumes.MiB);

        var response = await Csi.ControllerGetVolume(volume.VolumeId);

        Assert.Equal(volume, response.Volume);
        Assert.NotNull(response.Status);
        Assert.Empty(response.Status.PublishedNodeIds);
    }

    [Fact]
    [Trait(SplitDeployment.Skips, SplitDeployment.NeedsControllerPublish)]
    public async Task Status_follows_publishing_and_carries_a_condition()
    {
        // spec: "A Controller Plugin MUST provide a non-empty volume_condition field in
        // ControllerGetVolumeResponse if it has VOLUME_CONDITION capability."
        var volume = await Csi.CreateAsync("get-published");
        await Csi.PublishAsync(volume, fixture.NodeId);

        var published = await Csi.ControllerGetVolume(volume.VolumeId);
        await Csi.UnpublishAsync(volume.VolumeId, fixture.NodeId);
        var unpublished = await Csi.ControllerGetVolume(volume.VolumeId);

        Assert.Equal([fixture.NodeId], published.Status.PublishedNodeIds);
        Assert.Empty(unpublished.Status.PublishedNodeIds);
        Assert.NotNull(published.Status.VolumeCondition);
        Assert.False(published.Status.VolumeCondition.Abnormal);
        Assert.NotNull(unpublished.Status.VolumeCondition);
    }

    [Fact]
    public async Task An_unknown_volume_is_not_found()
    {
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.ControllerGetVolume("never-created-" + Guid.NewGuid().ToString("N")));
    }

    [Fact]
    public async Task A_missing_volume_id_is_an_invalid_argument()
    {
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.ControllerGetVolume(""));
    }
}
