using Csi.V1;
using CsiDriver.State;
using CsiVolume = Csi.V1.Volume;

namespace CsiDriver.Csi;

/// <summary>How a Formation volume is reported as a csi.v1.Volume, wherever one is reported:
/// the CSI Controller and the csi-addons volume groups give the same answer.</summary>
public static class CsiVolumes
{
    /// <summary>The topology segment of every Formation volume: the node that created it.</summary>
    public static Topology NodeTopology(string nodeId) => new() { Segments = { [DriverOptions.TopologyNodeKey] = nodeId } };

    public static CsiVolume From(VolumeRecord record, string nodeId) => new()
    {
        VolumeId = record.Id,
        CapacityBytes = record.CapacityBytes,
        AccessibleTopology = { NodeTopology(nodeId) },
        ContentSource = record.SourceKind switch
        {
            ContentSource.SnapshotKind => new VolumeContentSource { Snapshot = new VolumeContentSource.Types.SnapshotSource { SnapshotId = record.SourceId } },
            ContentSource.VolumeKind => new VolumeContentSource { Volume = new VolumeContentSource.Types.VolumeSource { VolumeId = record.SourceId } },
            _ => null,
        },
    };
}
