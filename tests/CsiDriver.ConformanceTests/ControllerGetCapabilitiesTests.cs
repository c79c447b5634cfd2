using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using ControllerRpc = Csi.V1.ControllerServiceCapability.Types.RPC.Types.Type;
using PluginService = Csi.V1.PluginCapability.Types.Service.Types.Type;

namespace CsiDriver.ConformanceTests;

/// <summary>ControllerGetCapabilities: the set the driver promises (a cluster's controller without
/// attachment), the spec's rules that tie capabilities to one another, and what it does not offer
/// answering UNIMPLEMENTED.</summary>
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
    public async Task Advertises_exactly_what_the_driver_implements()
    {
        var capabilities = await CapabilitiesAsync();

        // Every controller RPC and behaviour of CSI v1.12: each one has its own tests.
        ControllerRpc[] expected =
        [
            ControllerRpc.CreateDeleteVolume, ControllerRpc.ListVolumes, ControllerRpc.GetCapacity, ControllerRpc.ExpandVolume,
            ControllerRpc.VolumeCondition, ControllerRpc.GetVolume, ControllerRpc.SingleNodeMultiWriter,
            ControllerRpc.CreateDeleteSnapshot, ControllerRpc.ListSnapshots, ControllerRpc.GetSnapshot,
            ControllerRpc.CloneVolume, ControllerRpc.ModifyVolume,
        ];
        Assert.Equal((fixture.IsSplit ? expected : [.. expected, .. Attachment]).Order(), capabilities.Order());
        if (fixture.IsSplit)
        {
            await RpcAssert.FailsAsync(StatusCode.Unimplemented, () => fixture.Csi.ControllerPublishVolume(new ControllerPublishVolumeRequest
            {
                VolumeId = "any", NodeId = fixture.NodeId, VolumeCapability = Volumes.Mount(),
            }));
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
    public async Task The_advertised_snapshot_metadata_service_is_served()
    {
        // spec: a plugin that announces SNAPSHOT_METADATA_SERVICE serves csi.v1.SnapshotMetadata
        // (on the controller's socket too, where the sidecar calls it in a cluster): an unknown
        // snapshot is NOT_FOUND, not UNIMPLEMENTED.
        var plugin = (await fixture.Csi.GetPluginCapabilities()).Capabilities;
        Assert.Contains(plugin, c => c.Service is { Type: PluginService.SnapshotMetadataService });

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => fixture.Csi.GetMetadataAllocated(new GetMetadataAllocatedRequest { SnapshotId = "no-such-snapshot" }));
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => fixture.Csi.GetMetadataDelta(
            new GetMetadataDeltaRequest { BaseSnapshotId = "no-such-snapshot", TargetSnapshotId = "nor-this-one" }));
    }

    [Fact]
    public async Task Answers_the_same_on_every_call()
    {
        Assert.Equal(await CapabilitiesAsync(), await CapabilitiesAsync());
    }
}
