using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>
/// The `consistencyGroup` parameter: a StorageClass parameter at CreateVolume, a mutable parameter
/// for ControllerModifyVolume, a known key for ValidateVolumeCapabilities. No RPC reports a
/// volume's group, so these tests check what is accepted and what is refused.
/// </summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class ConsistencyGroupTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private const string Key = "consistencyGroup";

    private CsiClient Csi => fixture.Csi;

    private static CreateVolumeRequest InGroup(string name, string group) =>
        Volumes.Request(name, requiredBytes: 4 * Volumes.MiB).With(r => r.Parameters[Key] = group);

    private Task<ControllerModifyVolumeResponse> MoveAsync(string volumeId, string group) =>
        Csi.ControllerModifyVolume(new ControllerModifyVolumeRequest { VolumeId = volumeId, MutableParameters = { [Key] = group } });

    public static TheoryData<string> ValidNames => new()
    {
        "orders",
        "x",
        "Shop_Orders-2026.v1",
        "0123456789",
        new string('g', 128),
    };

    public static TheoryData<string> InvalidNames => new()
    {
        "two words",
        "slash/name",
        "semi;colon",
        "caf\u00e9",
        "tab\tname",
        new string('g', 129),
    };

    [Theory]
    [MemberData(nameof(ValidNames))]
    public async Task A_valid_group_name_places_the_volume(string group)
    {
        var request = InGroup(Volumes.UniqueName("cg"), group);

        var volume = (await Csi.CreateVolume(request)).Volume;

        Assert.Equal(volume, (await Csi.CreateVolume(request)).Volume);
        await MoveAsync(volume.VolumeId, group);
    }

    [Theory]
    [MemberData(nameof(InvalidNames))]
    public async Task An_invalid_group_name_is_an_invalid_argument_at_creation_and_modification(string group)
    {
        var name = Volumes.UniqueName("cg-invalid");
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateVolume(InGroup(name, group)));
        // Nothing was created under the name: it is free for a request in another group.
        await Csi.CreateVolume(InGroup(name, "valid-after-refusal"));

        var asMutable = Volumes.Request(Volumes.UniqueName("cg-invalid-mutable")).With(r => r.MutableParameters[Key] = group);
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateVolume(asMutable));

        var volume = await Csi.CreateAsync("cg-invalid-move", requiredBytes: 4 * Volumes.MiB);
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => MoveAsync(volume.VolumeId, group));
    }

    [Fact]
    public async Task Several_volumes_share_one_group()
    {
        var sales = (await Csi.CreateVolume(InGroup(Volumes.UniqueName("cg-sales"), "shop"))).Volume;
        var stock = (await Csi.CreateVolume(InGroup(Volumes.UniqueName("cg-stock"), "shop"))).Volume;

        Assert.NotEqual(sales.VolumeId, stock.VolumeId);
        var salesSnapshot = await Csi.SnapshotAsync(sales.VolumeId);
        var stockSnapshot = await Csi.SnapshotAsync(stock.VolumeId);
        Assert.NotEqual(salesSnapshot.SnapshotId, stockSnapshot.SnapshotId);
    }

    [Fact]
    public async Task The_same_name_in_another_group_already_exists()
    {
        // spec: CreateVolume Errors — "Volume already exists but is incompatible with the specified
        // ... parameters: 6 ALREADY_EXISTS".
        var name = Volumes.UniqueName("cg-taken");
        await Csi.CreateVolume(InGroup(name, "orders"));

        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Csi.CreateVolume(InGroup(name, "stock")));
        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Csi.CreateVolume(Volumes.Request(name, requiredBytes: 4 * Volumes.MiB)));
    }

    [Fact]
    public async Task Modification_moves_between_groups_and_out_of_any_group()
    {
        // spec: ControllerModifyVolume "MUST be idempotent" and the new value "can be different from
        // the existing mutable parameters".
        var volume = (await Csi.CreateVolume(InGroup(Volumes.UniqueName("cg-move"), "orders"))).Volume;

        await MoveAsync(volume.VolumeId, "stock");
        await MoveAsync(volume.VolumeId, "stock");
        await MoveAsync(volume.VolumeId, "");
        await MoveAsync(volume.VolumeId, "");
        await MoveAsync(volume.VolumeId, "orders");

        Assert.Equal(volume.VolumeId, (await Csi.ControllerGetVolume(volume.VolumeId)).Volume.VolumeId);
    }

    [Fact]
    public async Task A_volume_with_snapshots_and_clones_can_move()
    {
        var volume = (await Csi.CreateVolume(InGroup(Volumes.UniqueName("cg-move-snap"), "orders"))).Volume;
        var snapshot = await Csi.SnapshotAsync(volume.VolumeId);
        var clone = await Csi.CreateFromAsync("cg-clone", Snapshots.OfVolume(volume.VolumeId));

        await MoveAsync(volume.VolumeId, "stock");
        await MoveAsync(clone.VolumeId, "stock");

        Assert.Equal(snapshot, (await Csi.GetSnapshot(snapshot.SnapshotId)).Snapshot);
        await Csi.CreateFromAsync("cg-restored", Snapshots.OfSnapshot(snapshot.SnapshotId));
    }

    [Fact]
    public async Task Modification_with_another_key_is_refused_whole()
    {
        // spec: ControllerModifyVolume Errors — "Parameters not supported: 3 INVALID_ARGUMENT".
        var volume = await Csi.CreateAsync("cg-other-key", requiredBytes: 4 * Volumes.MiB);

        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.ControllerModifyVolume(new ControllerModifyVolumeRequest
        {
            VolumeId = volume.VolumeId,
            MutableParameters = { [Key] = "orders", ["iops"] = "5000" },
        }));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.ControllerModifyVolume(new ControllerModifyVolumeRequest
        {
            VolumeId = volume.VolumeId,
            MutableParameters = { ["ConsistencyGroup"] = "orders" },
        }));
    }

    [Fact]
    public async Task Modifying_an_unknown_volume_is_not_found()
    {
        // spec: ControllerModifyVolume Errors — "Volume does not exist: 5 NOT_FOUND".
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => MoveAsync(Snapshots.NeverCreated(), "orders"));
    }

    [Fact]
    public async Task Validation_confirms_the_group_parameter_and_not_an_unknown_one()
    {
        var volume = (await Csi.CreateVolume(InGroup(Volumes.UniqueName("cg-validate"), "orders"))).Volume;
        ValidateVolumeCapabilitiesRequest Ask() => new() { VolumeId = volume.VolumeId, VolumeCapabilities = { Volumes.Mount() } };

        var asParameter = await Csi.ValidateVolumeCapabilities(Ask().With(r => r.Parameters[Key] = "orders"));
        var asMutable = await Csi.ValidateVolumeCapabilities(Ask().With(r => r.MutableParameters[Key] = "orders"));
        var unknown = await Csi.ValidateVolumeCapabilities(Ask().With(r => r.Parameters["replicas"] = "3"));

        // spec: Confirmed — "the CO SHALL compare the fields of this message to the originally
        // requested" ones, so a confirmed parameter is echoed back.
        Assert.NotNull(asParameter.Confirmed);
        Assert.Equal("orders", asParameter.Confirmed.Parameters[Key]);
        Assert.NotNull(asMutable.Confirmed);
        Assert.Equal("orders", asMutable.Confirmed.MutableParameters[Key]);
        Assert.Null(unknown.Confirmed);
        Assert.Contains("replicas", unknown.Message);
    }
}
