using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>CreateVolume with a volume_content_source: a volume restored from a snapshot or cloned
/// from a volume — its size, the source it reports, idempotency and the error table.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class VolumeContentSourceTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private const long SourceSize = 8 * Volumes.MiB;

    private CsiClient Csi => fixture.Csi;

    private async Task<Snapshot> SnapshotOfNewVolumeAsync(string purpose, long size = SourceSize)
    {
        var source = await Csi.CreateAsync(purpose + "-source", requiredBytes: size);
        return await Csi.SnapshotAsync(source.VolumeId, purpose);
    }

    /// <summary>A snapshot source and a clone source of the same size, for tests that hold for both.</summary>
    private async Task<VolumeContentSource> SourceAsync(string kind)
    {
        if (kind == "snapshot")
        {
            return Snapshots.OfSnapshot((await SnapshotOfNewVolumeAsync("src")).SnapshotId);
        }
        return Snapshots.OfVolume((await Csi.CreateAsync("src-volume", requiredBytes: SourceSize)).VolumeId);
    }

    public static TheoryData<string> Kinds => new() { "snapshot", "volume" };

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Without_capacity_range_the_volume_has_the_source_size_and_reports_its_source(string kind)
    {
        var source = await SourceAsync(kind);

        var volume = (await Csi.CreateVolume(Snapshots.VolumeFrom(Volumes.UniqueName("from-" + kind), source))).Volume;

        Assert.Equal(SourceSize, volume.CapacityBytes);
        Assert.Equal(source, volume.ContentSource);
        // spec: a volume "SHALL always report the same" attributes: listing and fetching agree.
        Assert.Equal(volume, (await Csi.ControllerGetVolume(volume.VolumeId)).Volume);
        Assert.Single(await Csi.ListAllAsync(), entry => entry.Volume.Equals(volume));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task The_same_request_twice_returns_the_same_volume(string kind)
    {
        var request = Snapshots.VolumeFrom(Volumes.UniqueName("twice-from-" + kind), await SourceAsync(kind), Volumes.Mount("ext4"));

        var first = (await Csi.CreateVolume(request)).Volume;
        var second = (await Csi.CreateVolume(request)).Volume;

        Assert.Equal(first, second);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task The_same_name_with_another_source_or_none_already_exists(string kind)
    {
        // spec: CreateVolume Errors — "Volume already exists but is incompatible with the specified
        // ... volume_content_source: 6 ALREADY_EXISTS".
        var name = Volumes.UniqueName("taken-from-" + kind);
        await Csi.CreateVolume(Snapshots.VolumeFrom(name, await SourceAsync(kind), requiredBytes: SourceSize));

        VolumeContentSource[] others = [await SourceAsync("snapshot"), await SourceAsync("volume")];

        foreach (var other in others)
        {
            await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Csi.CreateVolume(Snapshots.VolumeFrom(name, other, requiredBytes: SourceSize)));
        }
        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Csi.CreateVolume(Volumes.Request(name, requiredBytes: SourceSize)));
    }

    [Fact]
    public async Task A_volume_created_empty_cannot_be_repeated_with_a_source()
    {
        var name = Volumes.UniqueName("empty-then-source");
        await Csi.CreateVolume(Volumes.Request(name, requiredBytes: SourceSize));
        var source = await SourceAsync("snapshot");

        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Csi.CreateVolume(Snapshots.VolumeFrom(name, source, requiredBytes: SourceSize)));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task A_required_size_below_the_source_is_out_of_range(string kind)
    {
        // spec: CreateVolume Errors — OUT_OF_RANGE "for example when trying to create a volume smaller
        // than the source snapshot"; Snapshot.size_bytes — "The size of the volume MUST NOT be less
        // than the size of the source snapshot."
        var source = await SourceAsync(kind);

        await RpcAssert.FailsAsync(StatusCode.OutOfRange, () => Csi.CreateVolume(Snapshots.VolumeFrom(Volumes.UniqueName("small-" + kind), source, requiredBytes: SourceSize / 2)));
        await RpcAssert.FailsAsync(StatusCode.OutOfRange, () => Csi.CreateVolume(Snapshots.VolumeFrom(Volumes.UniqueName("capped-" + kind), source, limitBytes: SourceSize - Volumes.BlockSize)));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Exactly_the_source_size_is_allowed(string kind)
    {
        var volume = (await Csi.CreateVolume(Snapshots.VolumeFrom(Volumes.UniqueName("exact-" + kind), await SourceAsync(kind), requiredBytes: SourceSize, limitBytes: SourceSize))).Volume;

        Assert.Equal(SourceSize, volume.CapacityBytes);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task A_larger_size_is_honoured(string kind)
    {
        // spec: CreateVolume — for a size larger than the source the plugin "can either refuse such a
        // call with OUT_OF_RANGE error or MUST provide a volume that ... has both the requested
        // (larger) size and contains data from the snapshot". Formation provides it (the data
        // through the larger volume: SnapshotDataPathTests).
        var request = Snapshots.VolumeFrom(Volumes.UniqueName("larger-" + kind), await SourceAsync(kind), requiredBytes: 2 * SourceSize);

        var volume = (await Csi.CreateVolume(request)).Volume;

        Assert.True(volume.CapacityBytes >= 2 * SourceSize, $"asked for {2 * SourceSize} bytes, got {volume.CapacityBytes}");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task An_unknown_source_is_not_found(string kind)
    {
        // spec: CreateVolume Errors — "Source does not exist: 5 NOT_FOUND".
        var source = kind == "snapshot" ? Snapshots.OfSnapshot(Snapshots.NeverCreated()) : Snapshots.OfVolume(Snapshots.NeverCreated());

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.CreateFromAsync("ghost-" + kind, source));
    }

    public static TheoryData<string, VolumeContentSource> Incomplete => new()
    {
        { "blank-snapshot-id", Snapshots.OfSnapshot("") },
        { "blank-volume-id", Snapshots.OfVolume("") },
        { "no-type", new VolumeContentSource() },
    };

    [Theory]
    [MemberData(nameof(Incomplete))]
    public async Task A_source_without_an_id_or_a_type_is_an_invalid_argument(string purpose, VolumeContentSource source)
    {
        // spec: SnapshotSource.snapshot_id and VolumeSource.volume_id are REQUIRED, and of
        // VolumeContentSource "One of the type fields MUST be specified".
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateFromAsync(purpose, source));
    }

    [Fact]
    public async Task A_clone_outlives_its_source_volume()
    {
        var source = await Csi.CreateAsync("clone-parent", requiredBytes: SourceSize);
        var clone = await Csi.CreateFromAsync("clone-child", Snapshots.OfVolume(source.VolumeId));

        await Csi.DeleteVolume(source.VolumeId);

        var survivor = (await Csi.ControllerGetVolume(clone.VolumeId)).Volume;
        Assert.Equal(clone, survivor);
        var snapshot = await Csi.SnapshotAsync(clone.VolumeId);
        Assert.Equal(SourceSize, snapshot.SizeBytes);
    }

    [Fact]
    public async Task A_restored_volume_can_be_snapshotted_and_restored_again()
    {
        var first = await SnapshotOfNewVolumeAsync("chain");
        var restored = await Csi.CreateFromAsync("chain-restored", Snapshots.OfSnapshot(first.SnapshotId));

        var second = await Csi.SnapshotAsync(restored.VolumeId, "chain-again");
        var again = await Csi.CreateFromAsync("chain-restored-again", Snapshots.OfSnapshot(second.SnapshotId));

        Assert.Equal(SourceSize, again.CapacityBytes);
        Assert.Equal(second.SnapshotId, again.ContentSource.Snapshot.SnapshotId);
    }
}
