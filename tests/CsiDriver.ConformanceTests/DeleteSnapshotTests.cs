using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>DeleteSnapshot: idempotent, and a deleted snapshot is gone from every other RPC while
/// the volumes around it stay.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class DeleteSnapshotTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    [Fact]
    public async Task A_deleted_snapshot_is_gone_everywhere()
    {
        var source = await Csi.CreateAsync("delsnap-source", requiredBytes: 4 * Volumes.MiB);
        var snapshot = await Csi.SnapshotAsync(source.VolumeId, "delsnap");

        await Csi.DeleteSnapshot(snapshot.SnapshotId);

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.GetSnapshot(snapshot.SnapshotId));
        Assert.Empty(await Csi.ListAllSnapshotsAsync(new ListSnapshotsRequest { SnapshotId = snapshot.SnapshotId }));
        Assert.DoesNotContain(await Csi.ListAllSnapshotsAsync(), s => s.SnapshotId == snapshot.SnapshotId);
        // spec: CreateVolume Errors — "Source does not exist: 5 NOT_FOUND".
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.CreateFromAsync("delsnap-restore", Snapshots.OfSnapshot(snapshot.SnapshotId)));
        Assert.Equal(source.VolumeId, (await Csi.ControllerGetVolume(source.VolumeId)).Volume.VolumeId);
    }

    [Fact]
    public async Task Deleting_twice_or_deleting_an_unknown_snapshot_succeeds()
    {
        // spec: DeleteSnapshot — "If a snapshot corresponding to the specified snapshot_id does not
        // exist ... the Plugin MUST reply 0 OK".
        var source = await Csi.CreateAsync("delsnap-twice-source", requiredBytes: 4 * Volumes.MiB);
        var snapshot = await Csi.SnapshotAsync(source.VolumeId, "delsnap-twice");

        await Csi.DeleteSnapshot(snapshot.SnapshotId);
        await Csi.DeleteSnapshot(snapshot.SnapshotId);
        await Csi.DeleteSnapshot(Snapshots.NeverCreated());
    }

    [Fact]
    public async Task A_missing_snapshot_id_is_an_invalid_argument()
    {
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.DeleteSnapshot(""));
    }

    [Fact]
    public async Task Deleting_one_snapshot_keeps_the_others_of_the_same_volume()
    {
        var source = await Csi.CreateAsync("delsnap-siblings", requiredBytes: 4 * Volumes.MiB);
        var doomed = await Csi.SnapshotAsync(source.VolumeId);
        var kept = await Csi.SnapshotAsync(source.VolumeId);

        await Csi.DeleteSnapshot(doomed.SnapshotId);

        Assert.Equal([kept], await Csi.ListAllSnapshotsAsync(new ListSnapshotsRequest { SourceVolumeId = source.VolumeId }));
    }

    [Fact]
    public async Task A_snapshot_whose_restored_volume_exists_is_deleted_at_once()
    {
        // spec: DeleteSnapshot Errors — "Snapshot in use: 9 FAILED_PRECONDITION" is allowed, but the
        // engine keeps the layers a restored volume still reads through, so a snapshot is never in use.
        var source = await Csi.CreateAsync("delsnap-used-source", requiredBytes: 4 * Volumes.MiB);
        var snapshot = await Csi.SnapshotAsync(source.VolumeId, "delsnap-used");
        var restored = await Csi.CreateFromAsync("delsnap-restored", Snapshots.OfSnapshot(snapshot.SnapshotId));

        await Csi.DeleteSnapshot(snapshot.SnapshotId);

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.GetSnapshot(snapshot.SnapshotId));
        var survivor = (await Csi.ControllerGetVolume(restored.VolumeId)).Volume;
        Assert.Equal(restored.CapacityBytes, survivor.CapacityBytes);
    }

    [Fact]
    public async Task A_name_is_free_again_once_its_snapshot_is_deleted()
    {
        var first = await Csi.CreateAsync("delsnap-reuse-a", requiredBytes: 4 * Volumes.MiB);
        var second = await Csi.CreateAsync("delsnap-reuse-b", requiredBytes: 8 * Volumes.MiB);
        var name = Volumes.UniqueName("delsnap-reused");
        var old = (await Csi.CreateSnapshot(Snapshots.Request(name, first.VolumeId))).Snapshot;
        await Csi.DeleteSnapshot(old.SnapshotId);

        var fresh = (await Csi.CreateSnapshot(Snapshots.Request(name, second.VolumeId))).Snapshot;

        Assert.Equal(second.VolumeId, fresh.SourceVolumeId);
        Assert.Equal(8 * Volumes.MiB, fresh.SizeBytes);
    }
}
