using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using ControllerRpc = Csi.V1.ControllerServiceCapability.Types.RPC.Types.Type;

namespace CsiDriver.ConformanceTests;

/// <summary>ControllerGetCapabilities: the set the driver promises, and the spec's rules that
/// tie capabilities to one another.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class ControllerGetCapabilitiesTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private async Task<List<ControllerRpc>> CapabilitiesAsync()
    {
        var response = await fixture.Csi.ControllerGetCapabilities();
        Assert.All(response.Capabilities, c => Assert.NotNull(c.Rpc));
        return response.Capabilities.Select(c => c.Rpc.Type).ToList();
    }

    /// <summary>Attachment is recorded by a standalone driver, which is its own controller; a
    /// cluster's controller offers none (attachRequired: false), and says so.</summary>
    private static readonly ControllerRpc[] Attachment =
        [ControllerRpc.PublishUnpublishVolume, ControllerRpc.ListVolumesPublishedNodes, ControllerRpc.PublishReadonly];

    [Fact]
    public async Task Advertises_the_volume_lifecycle_the_driver_implements()
    {
        var capabilities = await CapabilitiesAsync();

        ControllerRpc[] expected =
        [
            ControllerRpc.CreateDeleteVolume, ControllerRpc.ListVolumes, ControllerRpc.GetCapacity, ControllerRpc.ExpandVolume,
            ControllerRpc.VolumeCondition, ControllerRpc.GetVolume, ControllerRpc.SingleNodeMultiWriter,
        ];
        Assert.All(expected, capability => Assert.Contains(capability, capabilities));
        Assert.DoesNotContain(ControllerRpc.Unknown, capabilities);
        Assert.Equal(capabilities.Count, capabilities.Distinct().Count());
        if (fixture.IsSplit)
        {
            Assert.All(Attachment, capability => Assert.DoesNotContain(capability, capabilities));
            await RpcAssert.FailsAsync(StatusCode.Unimplemented, () => fixture.Csi.ControllerPublishVolume(new ControllerPublishVolumeRequest
            {
                VolumeId = "any", NodeId = fixture.NodeId, VolumeCapability = Volumes.Mount(),
            }));
        }
        else
        {
            Assert.All(Attachment, capability => Assert.Contains(capability, capabilities));
        }
    }

    [Fact]
    public async Task Published_node_listing_comes_only_with_publish_unpublish()
    {
        // spec: LIST_VOLUMES_PUBLISHED_NODES — "The SP MUST also support PUBLISH_UNPUBLISH_VOLUME."
        var capabilities = await CapabilitiesAsync();

        Assert.Equal(capabilities.Contains(ControllerRpc.ListVolumesPublishedNodes), capabilities.Contains(ControllerRpc.PublishUnpublishVolume));
    }

    [Fact]
    public async Task Unadvertised_snapshot_rpcs_are_unimplemented()
    {
        // spec: "Unsupported RPCs SHOULD return an appropriate error code that indicates such
        // (e.g. CALL_NOT_IMPLEMENTED)" — gRPC UNIMPLEMENTED.
        var capabilities = await CapabilitiesAsync();
        if (capabilities.Contains(ControllerRpc.CreateDeleteSnapshot))
        {
            var volume = await fixture.Csi.CreateAsync("snapshot-source");
            var snapshot = await fixture.Csi.CreateSnapshot(new CreateSnapshotRequest { Name = Volumes.UniqueName("snap"), SourceVolumeId = volume.VolumeId });
            Assert.Equal(volume.VolumeId, snapshot.Snapshot.SourceVolumeId);
            return;
        }

        await RpcAssert.FailsAsync(StatusCode.Unimplemented, () => fixture.Csi.CreateSnapshot(
            new CreateSnapshotRequest { Name = Volumes.UniqueName("snap"), SourceVolumeId = "any" }));
    }

    [Fact]
    public async Task Answers_the_same_on_every_call()
    {
        Assert.Equal(await CapabilitiesAsync(), await CapabilitiesAsync());
    }
}
