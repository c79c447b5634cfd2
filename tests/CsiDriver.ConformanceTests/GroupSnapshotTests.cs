using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using Google.Protobuf;

namespace CsiDriver.ConformanceTests;

/// <summary>csi.v1.GroupController: atomic group snapshots, idempotency by name, the rules on
/// snapshot_ids and on deleting members, and members visible as ordinary snapshots.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class GroupSnapshotTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    private async Task<(Volume A, Volume B)> TwoVolumesAsync(string purpose, bool sameGroup)
    {
        var a = Volumes.Request(Volumes.UniqueName(purpose + "-a"), requiredBytes: 8 * Volumes.MiB);
        var b = Volumes.Request(Volumes.UniqueName(purpose + "-b"), requiredBytes: 8 * Volumes.MiB);
        if (sameGroup)
        {
            a.Parameters["consistencyGroup"] = b.Parameters["consistencyGroup"] = "grp-" + Guid.NewGuid().ToString("N")[..8];
        }
        return ((await Csi.CreateVolume(a)).Volume, (await Csi.CreateVolume(b)).Volume);
    }

    private Task<TResponse> Controller<TRequest, TResponse>(string method, TRequest request)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new() =>
        Csi.Grpc.UnaryAsync<TRequest, TResponse>(
            CsiReflection.Descriptor.Services.Single(s => s.Name == "Controller").FindMethodByName(method), request,
            new CallOptions { Timeout = TimeSpan.FromSeconds(20) });

    [Fact]
    public async Task The_plugin_offers_the_group_controller()
    {
        var plugin = await Csi.GetPluginCapabilities();
        Assert.Contains(plugin.Capabilities, c => c.Service?.Type == PluginCapability.Types.Service.Types.Type.GroupControllerService);
        var group = await Csi.GroupControllerGetCapabilities();
        Assert.Contains(group.Capabilities, c => c.Rpc.Type == GroupControllerServiceCapability.Types.RPC.Types.Type.CreateDeleteGetVolumeGroupSnapshot);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_group_snapshot_has_one_ready_member_per_volume_and_is_idempotent(bool sameGroup)
    {
        var (a, b) = await TwoVolumesAsync("gs", sameGroup);
        var request = new CreateVolumeGroupSnapshotRequest { Name = Volumes.UniqueName("gs"), SourceVolumeIds = { a.VolumeId, b.VolumeId } };

        var first = (await Csi.CreateVolumeGroupSnapshot(request)).GroupSnapshot;
        var again = (await Csi.CreateVolumeGroupSnapshot(request)).GroupSnapshot;

        Assert.Equal(first, again);
        Assert.True(first.ReadyToUse);
        Assert.Equal(new[] { a.VolumeId, b.VolumeId }.Order(StringComparer.Ordinal), first.Snapshots.Select(s => s.SourceVolumeId));
        Assert.All(first.Snapshots, s => Assert.Equal(first.GroupSnapshotId, s.GroupSnapshotId));
        Assert.All(first.Snapshots, s => Assert.Equal(8 * Volumes.MiB, s.SizeBytes));

        var got = (await Csi.GetVolumeGroupSnapshot(new() { GroupSnapshotId = first.GroupSnapshotId })).GroupSnapshot;
        Assert.Equal(first, got);
        var member = first.Snapshots[0];
        var listed = await Controller<ListSnapshotsRequest, ListSnapshotsResponse>("ListSnapshots", new() { SnapshotId = member.SnapshotId });
        Assert.Equal(first.GroupSnapshotId, Assert.Single(listed.Entries).Snapshot.GroupSnapshotId);
    }

    [Fact]
    public async Task The_same_name_with_other_sources_already_exists()
    {
        var (a, b) = await TwoVolumesAsync("gs-conflict", sameGroup: false);
        var name = Volumes.UniqueName("gs-conflict");
        await Csi.CreateVolumeGroupSnapshot(new() { Name = name, SourceVolumeIds = { a.VolumeId, b.VolumeId } });
        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Csi.CreateVolumeGroupSnapshot(new() { Name = name, SourceVolumeIds = { a.VolumeId } }));
    }

    [Fact]
    public async Task Bad_requests_are_refused_with_the_spec_codes()
    {
        var (a, _) = await TwoVolumesAsync("gs-bad", sameGroup: false);
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateVolumeGroupSnapshot(new() { SourceVolumeIds = { a.VolumeId } }));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateVolumeGroupSnapshot(new() { Name = Volumes.UniqueName("gs-empty") }));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.CreateVolumeGroupSnapshot(new() { Name = Volumes.UniqueName("gs-param"), SourceVolumeIds = { a.VolumeId }, Parameters = { ["colour"] = "blue" } }));
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.CreateVolumeGroupSnapshot(new() { Name = Volumes.UniqueName("gs-missing"), SourceVolumeIds = { a.VolumeId, "vol-missing" } }));
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.GetVolumeGroupSnapshot(new() { GroupSnapshotId = "group-missing" }));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.GetVolumeGroupSnapshot(new()));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.DeleteVolumeGroupSnapshot(new()));
    }

    [Fact]
    public async Task Members_are_deleted_with_their_group_never_alone()
    {
        var (a, b) = await TwoVolumesAsync("gs-delete", sameGroup: true);
        var group = (await Csi.CreateVolumeGroupSnapshot(new() { Name = Volumes.UniqueName("gs-delete"), SourceVolumeIds = { a.VolumeId, b.VolumeId } })).GroupSnapshot;
        var member = group.Snapshots[0].SnapshotId;

        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Controller<DeleteSnapshotRequest, DeleteSnapshotResponse>("DeleteSnapshot", new() { SnapshotId = member }));
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.DeleteVolumeGroupSnapshot(new() { GroupSnapshotId = group.GroupSnapshotId, SnapshotIds = { member } }));

        await Csi.DeleteVolumeGroupSnapshot(new() { GroupSnapshotId = group.GroupSnapshotId, SnapshotIds = { group.Snapshots.Select(s => s.SnapshotId) } });
        await Csi.DeleteVolumeGroupSnapshot(new() { GroupSnapshotId = group.GroupSnapshotId });
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.GetVolumeGroupSnapshot(new() { GroupSnapshotId = group.GroupSnapshotId }));
        var listed = await Controller<ListSnapshotsRequest, ListSnapshotsResponse>("ListSnapshots", new() { SnapshotId = member });
        Assert.Empty(listed.Entries);
    }

    [Fact]
    public async Task A_volume_can_be_created_from_a_member_snapshot()
    {
        var (a, b) = await TwoVolumesAsync("gs-restore", sameGroup: true);
        var group = (await Csi.CreateVolumeGroupSnapshot(new() { Name = Volumes.UniqueName("gs-restore"), SourceVolumeIds = { a.VolumeId, b.VolumeId } })).GroupSnapshot;
        var request = Volumes.Request(Volumes.UniqueName("from-member"));
        request.VolumeContentSource = new VolumeContentSource { Snapshot = new() { SnapshotId = group.Snapshots[0].SnapshotId } };

        var restored = (await Csi.CreateVolume(request)).Volume;

        Assert.Equal(8 * Volumes.MiB, restored.CapacityBytes);
        Assert.Equal(group.Snapshots[0].SnapshotId, restored.ContentSource.Snapshot.SnapshotId);
    }
}
