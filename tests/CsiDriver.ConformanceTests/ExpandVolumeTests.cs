using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using static Csi.V1.VolumeCapability.Types.AccessMode.Types;

namespace CsiDriver.ConformanceTests;

/// <summary>ControllerExpandVolume: volumes grow online in whole blocks, never shrink, and a
/// mounted filesystem still needs its node to grow it.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class ExpandVolumeTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    private Task<ControllerExpandVolumeResponse> ExpandAsync(string volumeId, long requiredBytes, VolumeCapability? capability = null, long limitBytes = 0) =>
        Csi.ControllerExpandVolume(new ControllerExpandVolumeRequest
        {
            VolumeId = volumeId,
            CapacityRange = new CapacityRange { RequiredBytes = requiredBytes, LimitBytes = limitBytes },
            VolumeCapability = capability,
        });

    [Fact]
    public async Task A_mount_volume_grows_and_needs_node_expansion()
    {
        var volume = await Csi.CreateAsync("grow-mount", Volumes.Mount("ext4"), requiredBytes: 16 * Volumes.MiB);

        var response = await ExpandAsync(volume.VolumeId, 32 * Volumes.MiB, Volumes.Mount("ext4"));

        Assert.Equal(32 * Volumes.MiB, response.CapacityBytes);
        Assert.True(response.NodeExpansionRequired, "a filesystem must be grown on the node");
        Assert.Equal(32 * Volumes.MiB, (await Csi.ControllerGetVolume(volume.VolumeId)).Volume.CapacityBytes);
        var listed = Assert.Single(await Csi.ListAllAsync(), entry => entry.Volume.VolumeId == volume.VolumeId);
        Assert.Equal(32 * Volumes.MiB, listed.Volume.CapacityBytes);
    }

    [Fact]
    public async Task A_block_volume_grows_without_node_expansion()
    {
        var volume = await Csi.CreateAsync("grow-block", Volumes.Block(), requiredBytes: 16 * Volumes.MiB);

        var response = await ExpandAsync(volume.VolumeId, 20 * Volumes.MiB, Volumes.Block());

        Assert.Equal(20 * Volumes.MiB, response.CapacityBytes);
        Assert.False(response.NodeExpansionRequired);
    }

    [Fact]
    public async Task The_new_size_rounds_up_to_whole_blocks()
    {
        var volume = await Csi.CreateAsync("grow-rounded", requiredBytes: 16 * Volumes.MiB);

        var response = await ExpandAsync(volume.VolumeId, 16 * Volumes.MiB + 1);

        Assert.Equal(16 * Volumes.MiB + Volumes.BlockSize, response.CapacityBytes);
    }

    [Fact]
    public async Task Expanding_to_the_same_size_again_changes_nothing()
    {
        var volume = await Csi.CreateAsync("grow-twice", requiredBytes: 16 * Volumes.MiB);

        var first = await ExpandAsync(volume.VolumeId, 24 * Volumes.MiB);
        var second = await ExpandAsync(volume.VolumeId, 24 * Volumes.MiB);

        Assert.Equal(first.CapacityBytes, second.CapacityBytes);
        Assert.Equal(24 * Volumes.MiB, (await Csi.ControllerGetVolume(volume.VolumeId)).Volume.CapacityBytes);
    }

    [Fact]
    public async Task Asking_for_less_keeps_the_current_size()
    {
        // spec: ControllerExpandVolume — already at least the target size: "the plugin SHOULD reply 0 OK".
        var volume = await Csi.CreateAsync("no-shrink", requiredBytes: 32 * Volumes.MiB);

        var response = await ExpandAsync(volume.VolumeId, 8 * Volumes.MiB);

        Assert.Equal(32 * Volumes.MiB, response.CapacityBytes);
        Assert.Equal(32 * Volumes.MiB, (await Csi.ControllerGetVolume(volume.VolumeId)).Volume.CapacityBytes);
    }

    [Fact]
    [Trait(SplitDeployment.Skips, SplitDeployment.NeedsControllerPublish)]
    public async Task A_published_volume_grows_online()
    {
        // The driver announces VolumeExpansion ONLINE: a volume in use MUST be expandable, and
        // the pod sees the new size at once (a block volume needs no node expansion).
        NodeSteps.RequireKernelPath();
        var workspace = fixture.Driver.Workspace;
        var capability = Volumes.Block();
        var volume = await Csi.CreateAsync("grow-online", capability, requiredBytes: 16 * Volumes.MiB);
        await Csi.PublishAsync(volume, fixture.NodeId, capability);
        try
        {
            await Csi.StageAsync(workspace, volume.VolumeId, capability);
            await Csi.PublishOnNodeAsync(workspace, volume.VolumeId, capability);

            var response = await ExpandAsync(volume.VolumeId, 48 * Volumes.MiB, capability);

            Assert.Equal(48 * Volumes.MiB, response.CapacityBytes);
            Assert.False(response.NodeExpansionRequired);
            Assert.Equal(48 * Volumes.MiB, NodeSteps.DeviceSize(NodeSteps.DeviceBoundAt(NodeSteps.TargetPath(workspace, volume.VolumeId))));
        }
        finally
        {
            await Csi.CleanUpAsync(workspace, volume.VolumeId);
        }
    }

    [Fact]
    public async Task Required_above_limit_is_out_of_range()
    {
        // spec: ControllerExpandVolume Errors — "Unsupported capacity_range: 11 OUT_OF_RANGE".
        var volume = await Csi.CreateAsync("grow-bad-range", requiredBytes: 16 * Volumes.MiB);

        await RpcAssert.FailsAsync(StatusCode.OutOfRange, () => ExpandAsync(volume.VolumeId, 64 * Volumes.MiB, limitBytes: 32 * Volumes.MiB));
        Assert.Equal(16 * Volumes.MiB, (await Csi.ControllerGetVolume(volume.VolumeId)).Volume.CapacityBytes);
    }

    [Fact]
    public async Task A_capability_the_volume_lacks_is_an_invalid_argument()
    {
        // spec: ControllerExpandVolume Errors — "Exceeds capabilities: 3 INVALID_ARGUMENT".
        var volume = await Csi.CreateAsync("grow-multi-node", requiredBytes: 16 * Volumes.MiB);

        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => ExpandAsync(volume.VolumeId, 32 * Volumes.MiB, Volumes.Mount("ext4", Mode.MultiNodeMultiWriter)));
    }

    [Fact]
    public async Task Missing_fields_are_invalid_arguments_and_unknown_volumes_not_found()
    {
        var volume = await Csi.CreateAsync("grow-missing", requiredBytes: 16 * Volumes.MiB);

        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.ControllerExpandVolume(new ControllerExpandVolumeRequest { VolumeId = volume.VolumeId }));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => ExpandAsync("", 32 * Volumes.MiB));
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => ExpandAsync("never-created-" + Guid.NewGuid().ToString("N"), 32 * Volumes.MiB));
    }
}
