using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using ControllerRpc = Csi.V1.ControllerServiceCapability.Types.RPC.Types.Type;

namespace CsiDriver.ConformanceTests;

/// <summary>The controller capabilities that come with snapshots, clones and consistency groups,
/// and the promise each one carries.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class SnapshotCapabilitiesTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private CsiClient Csi => fixture.Csi;

    [Fact]
    public async Task Create_delete_snapshot_comes_with_volumes_from_snapshots()
    {
        // spec: CREATE_DELETE_SNAPSHOT — "plugins supporting CREATE_DELETE_SNAPSHOT MUST support
        // creating volume from snapshot".
        Assert.True(await Csi.HasControllerCapabilityAsync(ControllerRpc.CreateDeleteSnapshot));
        var source = await Csi.CreateAsync("cap-source", requiredBytes: 4 * Volumes.MiB);
        var snapshot = await Csi.SnapshotAsync(source.VolumeId);

        var restored = await Csi.CreateFromAsync("cap-restored", Snapshots.OfSnapshot(snapshot.SnapshotId));

        Assert.Equal(snapshot.SnapshotId, restored.ContentSource.Snapshot.SnapshotId);
    }
}
