using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using ControllerRpc = Csi.V1.ControllerServiceCapability.Types.RPC.Types.Type;

namespace CsiDriver.ConformanceTests;

/// <summary>ControllerModifyVolume and mutable_parameters. The driver's one mutable parameter is
/// `consistencyGroup`, and it advertises MODIFY_VOLUME, which the spec requires before
/// mutable_parameters may be given at all.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class ModifyVolumeTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private const string ConsistencyGroup = "consistencyGroup";

    private CsiClient Csi => fixture.Csi;

    private Task<ControllerModifyVolumeResponse> ModifyAsync(string volumeId, string key, string value) =>
        Csi.ControllerModifyVolume(new ControllerModifyVolumeRequest { VolumeId = volumeId, MutableParameters = { [key] = value } });

    [Fact]
    public async Task An_unknown_mutable_parameter_is_an_invalid_argument()
    {
        // spec: ControllerModifyVolume Errors — "Parameters not supported: 3 INVALID_ARGUMENT".
        var volume = await Csi.CreateAsync("modify-unknown");

        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => ModifyAsync(volume.VolumeId, "iops", "5000"));
    }

    [Fact]
    public async Task Missing_volume_id_or_parameters_are_invalid_arguments()
    {
        // spec: mutable_parameters is REQUIRED, and a REQUIRED map "MUST contain at least 1 element".
        var volume = await Csi.CreateAsync("modify-missing");

        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => ModifyAsync("", ConsistencyGroup, "orders"));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.ControllerModifyVolume(new ControllerModifyVolumeRequest { VolumeId = volume.VolumeId }));
    }

    [Fact]
    public async Task The_consistency_group_is_modifiable_and_modify_volume_advertised()
    {
        Assert.True(await Csi.HasControllerCapabilityAsync(ControllerRpc.ModifyVolume));
        var volume = await Csi.CreateAsync("modify-group");

        await ModifyAsync(volume.VolumeId, ConsistencyGroup, "orders");
        await ModifyAsync(volume.VolumeId, ConsistencyGroup, "orders"); // idempotent
        await ModifyAsync(volume.VolumeId, ConsistencyGroup, "stock"); // may differ from the current value

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => ModifyAsync("never-created-" + Guid.NewGuid().ToString("N"), ConsistencyGroup, "orders"));
    }

    [Fact]
    public async Task Mutable_parameters_at_creation_are_honoured()
    {
        // spec: CreateVolumeRequest.mutable_parameters "SHALL NOT be specified unless the SP has
        // the MODIFY_VOLUME plugin capability" — which this driver advertises.
        Assert.True(await Csi.HasControllerCapabilityAsync(ControllerRpc.ModifyVolume));
        var request = Volumes.Request(Volumes.UniqueName("create-in-group"));
        request.MutableParameters[ConsistencyGroup] = "orders";

        var first = (await Csi.CreateVolume(request)).Volume;
        Assert.Equal(first.VolumeId, (await Csi.CreateVolume(request)).Volume.VolumeId);

        // spec: same name but incompatible mutable_parameters is ALREADY_EXISTS.
        var otherGroup = Volumes.Request(request.Name);
        otherGroup.MutableParameters[ConsistencyGroup] = "stock";
        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Csi.CreateVolume(otherGroup));
    }
}
