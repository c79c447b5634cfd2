using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.TestSupport;
using CsiDriver.TestSupport.Consistency;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.ConformanceTests.Atomicity;

/// <summary>
/// Checks a pair of snapshots as a restore would see them: each becomes a new volume through
/// CSI CreateVolume with the snapshot as content source, both are read over the driver's NBD
/// socket by <see cref="ConsistencyChecker"/>, and the clones are deleted again.
/// </summary>
public sealed class SnapshotPairReader(CsiClient csi, string nbdSocket)
{
    public async Task<ConsistencyReport> CheckAsync(string primarySnapshotId, string mirrorSnapshotId)
    {
        var primary = await CloneAsync(primarySnapshotId);
        try
        {
            var mirror = await CloneAsync(mirrorSnapshotId);
            try
            {
                await using var primaryDevice = await NbdBlockDevice.OpenAsync(nbdSocket, primary);
                await using var mirrorDevice = await NbdBlockDevice.OpenAsync(nbdSocket, mirror);
                return await ConsistencyChecker.CheckAsync(primaryDevice, mirrorDevice, MirroredVolumes.Layout);
            }
            finally
            {
                await csi.DeleteVolume(mirror);
            }
        }
        finally
        {
            await csi.DeleteVolume(primary);
        }
    }

    private async Task<string> CloneAsync(string snapshotId)
    {
        var request = Volumes.Request(Volumes.UniqueName("restore"), Volumes.Block(), MirroredVolumes.Layout.DeviceBytes);
        request.VolumeContentSource = new VolumeContentSource { Snapshot = new VolumeContentSource.Types.SnapshotSource { SnapshotId = snapshotId } };
        return (await csi.CreateVolume(request)).Volume.VolumeId;
    }
}
