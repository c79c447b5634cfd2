using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>GetSnapshot (GET_SNAPSHOT): the snapshot as CreateSnapshot reported it, or NOT_FOUND.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class GetSnapshotTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    [Fact]
    public async Task Returns_the_snapshot_as_created()
    {
        var source = await Csi.CreateAsync("getsnap-source", requiredBytes: 6 * Volumes.MiB);
        var snapshot = await Csi.SnapshotAsync(source.VolumeId, "getsnap");

        var fetched = (await Csi.GetSnapshot(snapshot.SnapshotId)).Snapshot;

        Assert.Equal(snapshot, fetched);
    }

    [Fact]
    public async Task An_unknown_snapshot_is_not_found()
    {
        // spec: GetSnapshot Errors — "Snapshot does not exist: 5 NOT_FOUND".
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.GetSnapshot(Snapshots.NeverCreated()));
    }

    [Fact]
    public async Task A_missing_snapshot_id_is_an_invalid_argument()
    {
        // spec: GetSnapshotRequest.snapshot_id — "This field is REQUIRED."
        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => Csi.GetSnapshot(""));
    }

    [Fact]
    public async Task A_volume_id_is_not_a_snapshot_id()
    {
        var volume = await Csi.CreateAsync("getsnap-volume", requiredBytes: 4 * Volumes.MiB);

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Csi.GetSnapshot(volume.VolumeId));
    }
}
