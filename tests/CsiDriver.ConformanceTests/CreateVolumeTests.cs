using System.Text;
using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using static Csi.V1.VolumeCapability.Types.AccessMode.Types;

namespace CsiDriver.ConformanceTests;

/// <summary>CreateVolume: sizes, capabilities, parameters, sources and topology of a new volume.
/// Idempotency and conflicts are in <see cref="CreateVolumeIdempotencyTests"/>.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class CreateVolumeTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    [Fact]
    public async Task Without_capacity_range_a_volume_gets_the_default_size_on_this_node()
    {
        var volume = (await Csi.CreateVolume(Volumes.Request(Volumes.UniqueName("default")))).Volume;

        Assert.False(string.IsNullOrEmpty(volume.VolumeId));
        Assert.Equal(Volumes.DefaultCapacity, volume.CapacityBytes);
        var topology = Assert.Single(volume.AccessibleTopology);
        Assert.Equal(Volumes.NodeTopology(fixture.NodeId), topology);
        // spec: Size Limits — 128 bytes per string and 4 KiB per map, "for messages generated
        // by both COs and plugins".
        Assert.InRange(Encoding.UTF8.GetByteCount(volume.VolumeId), 1, 128);
        Assert.InRange(volume.VolumeContext.Sum(p => Encoding.UTF8.GetByteCount(p.Key) + Encoding.UTF8.GetByteCount(p.Value)), 0, 4096);
    }

    [Theory]
    [InlineData(128, 'n')]
    [InlineData(42, '\u00e9')] // two UTF-8 bytes each
    public async Task Any_name_within_the_length_limit_is_allowed(int length, char letter)
    {
        // spec: CreateVolumeRequest.name — "Any Unicode string that conforms to the length limit
        // is allowed" except the banned control characters; the limit is 128 bytes.
        var name = Guid.NewGuid().ToString("N") + new string(letter, length - 32);
        Assert.True(Encoding.UTF8.GetByteCount(name) <= 128);

        var first = (await Csi.CreateVolume(Volumes.Request(name))).Volume;
        var again = (await Csi.CreateVolume(Volumes.Request(name))).Volume;

        Assert.Equal(first.VolumeId, again.VolumeId);
    }

    [Fact]
    public async Task Different_names_give_different_volumes()
    {
        var first = await Csi.CreateAsync("first");
        var second = await Csi.CreateAsync("second");

        Assert.NotEqual(first.VolumeId, second.VolumeId);
    }

    [Theory]
    [InlineData(1, Volumes.BlockSize)]
    [InlineData(Volumes.MiB + 1, Volumes.MiB + Volumes.BlockSize)]
    [InlineData(3 * Volumes.BlockSize, 3 * Volumes.BlockSize)]
    public async Task Required_bytes_round_up_to_whole_blocks(long required, long expected)
    {
        var volume = await Csi.CreateAsync("rounded", requiredBytes: required);

        Assert.Equal(expected, volume.CapacityBytes);
    }

    [Fact]
    public async Task An_exact_range_gives_exactly_that_size()
    {
        var response = await Csi.CreateVolume(Volumes.Request(Volumes.UniqueName("exact"), requiredBytes: 8 * Volumes.MiB, limitBytes: 8 * Volumes.MiB));

        Assert.Equal(8 * Volumes.MiB, response.Volume.CapacityBytes);
    }

    [Fact]
    public async Task A_limit_alone_bounds_the_size()
    {
        var response = await Csi.CreateVolume(Volumes.Request(Volumes.UniqueName("limited"), limitBytes: 10 * Volumes.MiB));

        Assert.InRange(response.Volume.CapacityBytes, Volumes.BlockSize, 10 * Volumes.MiB);
        Assert.Equal(0, response.Volume.CapacityBytes % Volumes.BlockSize);
    }

    [Theory]
    [InlineData(2 * Volumes.MiB, Volumes.MiB)] // required above limit
    [InlineData(5000, 5000)] // no whole block fits
    [InlineData(Volumes.BlockSize + 1, 2 * Volumes.BlockSize - 1)]
    public async Task A_range_no_volume_can_satisfy_is_out_of_range(long required, long limit)
    {
        // spec: CreateVolume Errors — "Unsupported capacity_range: 11 OUT_OF_RANGE".
        await RpcAssert.FailsAsync(StatusCode.OutOfRange, () => Csi.CreateVolume(Volumes.Request(Volumes.UniqueName("range"), requiredBytes: required, limitBytes: limit)));
    }

    [Theory]
    [InlineData(-Volumes.MiB, 0)]
    [InlineData(0, -Volumes.MiB)]
    public async Task Negative_capacity_is_refused(long required, long limit)
    {
        // spec: CapacityRange — "The value of this field MUST NOT be negative."; CreateVolume
        // Errors — "Unsupported capacity_range: 11 OUT_OF_RANGE".
        await RpcAssert.FailsAsync(StatusCode.OutOfRange, () => Csi.CreateVolume(Volumes.Request(Volumes.UniqueName("negative"), requiredBytes: required, limitBytes: limit)));
    }

    public static TheoryData<string, VolumeCapability> SupportedAccessTypes => new()
    {
        { "mount-default", Volumes.Mount() },
        { "mount-ext4", Volumes.Mount("ext4") },
        { "mount-xfs", Volumes.Mount("xfs") },
        { "block", Volumes.Block() },
    };

    [Theory]
    [MemberData(nameof(SupportedAccessTypes))]
    public async Task Block_and_ext4_or_xfs_mount_volumes_are_created(string purpose, VolumeCapability capability)
    {
        var volume = await Csi.CreateAsync(purpose, capability);

        Assert.Equal(Volumes.DefaultCapacity, volume.CapacityBytes);
    }

    [Theory]
    [InlineData("ntfs")]
    [InlineData("btrfs")]
    public async Task An_unsupported_filesystem_is_an_invalid_argument(string fsType)
    {
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateAsync("fs", Volumes.Mount(fsType)));
    }

    [Theory]
    [InlineData(Mode.SingleNodeWriter)]
    [InlineData(Mode.SingleNodeReaderOnly)]
    [InlineData(Mode.SingleNodeSingleWriter)]
    [InlineData(Mode.SingleNodeMultiWriter)]
    public async Task Single_node_access_modes_are_accepted(Mode mode)
    {
        var volume = await Csi.CreateAsync("single-node", Volumes.Mount("ext4", mode));

        Assert.False(string.IsNullOrEmpty(volume.VolumeId));
    }

    [Theory]
    [InlineData(Mode.MultiNodeReaderOnly)]
    [InlineData(Mode.MultiNodeSingleWriter)]
    [InlineData(Mode.MultiNodeMultiWriter)]
    public async Task Multi_node_access_modes_are_refused(Mode mode)
    {
        // spec: volume_capabilities — "If ANY of the specified volume capabilities are not
        // supported by the SP, the call MUST return the appropriate gRPC error code."
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateAsync("multi-node", Volumes.Block(mode)));
    }

    [Fact]
    public async Task Missing_required_fields_are_invalid_arguments()
    {
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateVolume(Volumes.Request("")));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateVolume(new CreateVolumeRequest { Name = Volumes.UniqueName("no-capabilities") }));
        var noAccessType = new VolumeCapability { AccessMode = new VolumeCapability.Types.AccessMode { Mode = Mode.SingleNodeWriter } };
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateAsync("no-access-type", noAccessType));
        var noAccessMode = new VolumeCapability { Block = new VolumeCapability.Types.BlockVolume() };
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateAsync("no-access-mode", noAccessMode));
    }

    [Fact]
    public async Task A_name_with_a_control_character_is_an_invalid_argument()
    {
        // spec: CreateVolumeRequest.name — U+0000-U+0008, U+000B, U+000C, U+000E-U+001F and
        // U+007F-U+009F are banned.
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateVolume(Volumes.Request("bad\u0001name-" + Guid.NewGuid().ToString("N"))));
    }

    [Fact]
    public async Task Unknown_parameters_are_refused_and_orchestrator_parameters_accepted()
    {
        var unknown = Volumes.Request(Volumes.UniqueName("unknown-parameter"));
        unknown.Parameters["replicas"] = "3";
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateVolume(unknown));

        var fromOrchestrator = Volumes.Request(Volumes.UniqueName("pvc-parameters"));
        fromOrchestrator.Parameters["csi.storage.k8s.io/pvc/name"] = "data";
        fromOrchestrator.Parameters["csi.storage.k8s.io/pvc/namespace"] = "shop";
        fromOrchestrator.Parameters["csi.storage.k8s.io/pv/name"] = "pvc-0001";
        var response = await Csi.CreateVolume(fromOrchestrator);
        Assert.Equal(Volumes.DefaultCapacity, response.Volume.CapacityBytes);
    }

    [Fact]
    public async Task Secrets_are_accepted()
    {
        var request = Volumes.Request(Volumes.UniqueName("with-secrets"));
        request.Secrets["password"] = "not-needed-by-this-driver";

        var response = await Csi.CreateVolume(request);

        Assert.False(string.IsNullOrEmpty(response.Volume.VolumeId));
    }

    [Fact]
    public async Task A_volume_source_makes_a_clone_of_it()
    {
        // spec: a volume content source needs CLONE_VOLUME, which this driver advertises.
        Assert.True(await Csi.HasControllerCapabilityAsync(ControllerServiceCapability.Types.RPC.Types.Type.CloneVolume));
        var source = await Csi.CreateAsync("clone-source");
        var request = Volumes.Request(Volumes.UniqueName("clone"));
        request.VolumeContentSource = new VolumeContentSource { Volume = new VolumeContentSource.Types.VolumeSource { VolumeId = source.VolumeId } };

        var clone = (await Csi.CreateVolume(request)).Volume;

        Assert.Equal(source.VolumeId, clone.ContentSource.Volume.VolumeId);
    }

    [Fact]
    public async Task A_snapshot_source_that_does_not_exist_is_not_found()
    {
        // spec: CreateVolume Errors — "Source does not exist: 5 NOT_FOUND" (with
        // CREATE_DELETE_SNAPSHOT advertised; an unsupported source would be INVALID_ARGUMENT).
        Assert.True(await Csi.HasControllerCapabilityAsync(ControllerServiceCapability.Types.RPC.Types.Type.CreateDeleteSnapshot));
        var request = Volumes.Request(Volumes.UniqueName("from-snapshot"));
        request.VolumeContentSource = new VolumeContentSource { Snapshot = new VolumeContentSource.Types.SnapshotSource { SnapshotId = "no-such-snapshot" } };

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.CreateVolume(request));
    }
}
