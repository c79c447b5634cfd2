using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using static Csi.V1.VolumeCapability.Types.AccessMode.Types;

namespace CsiDriver.ConformanceTests;

/// <summary>GetCapacity: what can still be provisioned, for the capabilities and topology asked.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class GetCapacityTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    private async Task<long> AvailableAsync(GetCapacityRequest request)
    {
        var response = await Csi.GetCapacity(request);
        // spec: available_capacity "MUST NOT be negative"; the optional sizes likewise.
        Assert.True(response.AvailableCapacity >= 0, $"negative available_capacity {response.AvailableCapacity}");
        Assert.True(response.MaximumVolumeSize is null or >= 0);
        Assert.True(response.MinimumVolumeSize is null or >= 0);
        return response.AvailableCapacity;
    }

    [Fact]
    public async Task The_data_directory_disk_has_room()
    {
        Assert.True(await AvailableAsync(new GetCapacityRequest()) > 0);
    }

    [Fact]
    public async Task Supported_capabilities_on_this_node_have_room()
    {
        var request = new GetCapacityRequest
        {
            VolumeCapabilities = { Volumes.Mount("ext4"), Volumes.Block(Mode.SingleNodeMultiWriter) },
            AccessibleTopology = Volumes.NodeTopology(fixture.NodeId),
        };

        Assert.True(await AvailableAsync(request) > 0);
    }

    [Theory]
    [InlineData(Mode.MultiNodeReaderOnly)]
    [InlineData(Mode.MultiNodeMultiWriter)]
    public async Task Unsupported_access_modes_have_no_room(Mode mode)
    {
        Assert.Equal(0, await AvailableAsync(new GetCapacityRequest { VolumeCapabilities = { Volumes.Mount("ext4", mode) } }));
    }

    [Fact]
    public async Task An_unsupported_filesystem_has_no_room()
    {
        Assert.Equal(0, await AvailableAsync(new GetCapacityRequest { VolumeCapabilities = { Volumes.Mount("ntfs") } }));
    }

    [Fact]
    public async Task Another_node_has_no_room_here()
    {
        Assert.Equal(0, await AvailableAsync(new GetCapacityRequest { AccessibleTopology = Volumes.NodeTopology("some-other-node") }));
    }

    [Fact]
    public async Task With_a_capacity_limit_available_is_the_limit_minus_what_is_provisioned()
    {
        // A limit well below any test machine's free space, so the limit is what counts.
        using var workspace = DriverWorkspace.Create();
        await using var driver = await DriverProcess.StartAsync(workspace, new DriverSettings { CapacityLimit = "1Gi" });
        var csi = driver.Csi;
        async Task<long> Available() => (await csi.GetCapacity(new GetCapacityRequest())).AvailableCapacity;
        Task<ControllerExpandVolumeResponse> Expand(string volumeId, long bytes) => csi.ControllerExpandVolume(new ControllerExpandVolumeRequest
        {
            VolumeId = volumeId,
            CapacityRange = new CapacityRange { RequiredBytes = bytes },
        });

        Assert.Equal(1024 * Volumes.MiB, await Available());
        var volume = await csi.CreateAsync("limited", requiredBytes: 256 * Volumes.MiB);
        Assert.Equal(768 * Volumes.MiB, await Available());
        await Expand(volume.VolumeId, 384 * Volumes.MiB);
        Assert.Equal(640 * Volumes.MiB, await Available());

        // More than is left cannot be provisioned, by creating or by growing: RESOURCE_EXHAUSTED
        // (out of space; OUT_OF_RANGE would say the size itself is unsupported). A refusal takes nothing.
        await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, () => csi.CreateAsync("too-big", requiredBytes: 700 * Volumes.MiB));
        await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, () => Expand(volume.VolumeId, 1100 * Volumes.MiB));
        Assert.Equal(640 * Volumes.MiB, await Available());
        Assert.Equal(384 * Volumes.MiB, (await csi.ControllerGetVolume(volume.VolumeId)).Volume.CapacityBytes);

        await csi.DeleteVolume(volume.VolumeId);
        Assert.Equal(1024 * Volumes.MiB, await Available());
        await driver.StopAsync();
    }
}
