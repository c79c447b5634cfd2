using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using static Csi.V1.VolumeCapability.Types.AccessMode.Types;

namespace CsiDriver.ConformanceTests;

/// <summary>ValidateVolumeCapabilities: `confirmed` only when every asked capability fits the
/// volume as created, otherwise a message and no confirmation.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class ValidateVolumeCapabilitiesTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    private Task<ValidateVolumeCapabilitiesResponse> ValidateAsync(Volume volume, params VolumeCapability[] capabilities) =>
        Csi.ValidateVolumeCapabilities(new ValidateVolumeCapabilitiesRequest
        {
            VolumeId = volume.VolumeId,
            VolumeContext = { volume.VolumeContext },
            VolumeCapabilities = { capabilities },
        });

    [Fact]
    public async Task The_capability_a_volume_was_created_with_is_confirmed()
    {
        var volume = await Csi.CreateAsync("validate-ext4", Volumes.Mount("ext4"));

        var response = await ValidateAsync(volume, Volumes.Mount("ext4"));

        Assert.NotNull(response.Confirmed);
        // spec: Confirmed.volume_capabilities is REQUIRED; the CO compares it with what it asked.
        Assert.Equal([Volumes.Mount("ext4")], response.Confirmed.VolumeCapabilities);
    }

    [Fact]
    public async Task Every_single_node_mode_of_a_block_volume_is_confirmed()
    {
        var volume = await Csi.CreateAsync("validate-block", Volumes.Block());
        VolumeCapability[] asked =
        [
            Volumes.Block(Mode.SingleNodeWriter), Volumes.Block(Mode.SingleNodeReaderOnly),
            Volumes.Block(Mode.SingleNodeSingleWriter), Volumes.Block(Mode.SingleNodeMultiWriter),
        ];

        var response = await ValidateAsync(volume, asked);

        Assert.NotNull(response.Confirmed);
        Assert.Equal(asked, response.Confirmed.VolumeCapabilities);
    }

    [Fact]
    public async Task Validation_is_idempotent()
    {
        var volume = await Csi.CreateAsync("validate-twice", Volumes.Mount("xfs"));

        Assert.Equal(await ValidateAsync(volume, Volumes.Mount("xfs")), await ValidateAsync(volume, Volumes.Mount("xfs")));
    }

    public static TheoryData<string, VolumeCapability> Mismatches => new()
    {
        { "block-for-mount", Volumes.Block() },
        { "other-filesystem", Volumes.Mount("xfs") },
        { "multi-node", Volumes.Mount("ext4", Mode.MultiNodeMultiWriter) },
        { "unknown-filesystem", Volumes.Mount("ntfs") },
    };

    [Theory]
    [MemberData(nameof(Mismatches))]
    public async Task A_capability_the_volume_lacks_is_not_confirmed(string purpose, VolumeCapability asked)
    {
        var volume = await Csi.CreateAsync("validate-" + purpose, Volumes.Mount("ext4"));

        // One fitting capability among the asked ones does not make the set confirmed.
        var response = await ValidateAsync(volume, Volumes.Mount("ext4"), asked);

        Assert.Null(response.Confirmed);
        Assert.False(string.IsNullOrWhiteSpace(response.Message), "an unconfirmed answer should say why");
    }

    [Fact]
    public async Task An_unknown_volume_is_not_found()
    {
        var ghost = new Volume { VolumeId = "never-created-" + Guid.NewGuid().ToString("N") };

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => ValidateAsync(ghost, Volumes.Mount()));
    }

    [Fact]
    public async Task Missing_fields_are_invalid_arguments()
    {
        var volume = await Csi.CreateAsync("validate-missing");

        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => ValidateAsync(new Volume(), Volumes.Mount()));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => ValidateAsync(volume));
    }
}
