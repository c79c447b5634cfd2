using Csi.V1;
using static Csi.V1.VolumeCapability.Types;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>The vocabulary tests build requests from: capabilities, sizes, unique names, and the
/// common create / publish steps.</summary>
public static class Volumes
{
    public const long BlockSize = 4096;
    public const long MiB = 1L << 20;
    public const long GiB = 1L << 30;

    /// <summary>Capacity the driver gives a volume created with no capacity_range.</summary>
    public const long DefaultCapacity = GiB;

    /// <summary>The one topology segment the driver reports: which node holds the volume.</summary>
    public const string NodeTopologyKey = "topology.formation.csi.dev/node";

    public static VolumeCapability Mount(string fsType = "", AccessMode.Types.Mode mode = AccessMode.Types.Mode.SingleNodeWriter) =>
        new() { Mount = new MountVolume { FsType = fsType }, AccessMode = new AccessMode { Mode = mode } };

    public static VolumeCapability Block(AccessMode.Types.Mode mode = AccessMode.Types.Mode.SingleNodeWriter) =>
        new() { Block = new BlockVolume(), AccessMode = new AccessMode { Mode = mode } };

    /// <summary>A volume name no other test uses, so tests sharing a driver never collide.</summary>
    public static string UniqueName(string purpose) => $"{purpose}-{Guid.NewGuid():N}";

    public static Topology NodeTopology(string nodeId) => new() { Segments = { [NodeTopologyKey] = nodeId } };

    public static CreateVolumeRequest Request(string name, VolumeCapability? capability = null, long requiredBytes = 0, long limitBytes = 0)
    {
        var request = new CreateVolumeRequest { Name = name, VolumeCapabilities = { capability ?? Mount() } };
        if (requiredBytes != 0 || limitBytes != 0)
        {
            request.CapacityRange = new CapacityRange { RequiredBytes = requiredBytes, LimitBytes = limitBytes };
        }
        return request;
    }

    public static async Task<Volume> CreateAsync(this CsiClient csi, string purpose, VolumeCapability? capability = null, long requiredBytes = 0)
    {
        var response = await csi.CreateVolume(Request(UniqueName(purpose), capability, requiredBytes));
        return response.Volume;
    }

    public static Task<ControllerPublishVolumeResponse> PublishAsync(this CsiClient csi, Volume volume, string nodeId, VolumeCapability? capability = null) =>
        csi.ControllerPublishVolume(new ControllerPublishVolumeRequest
        {
            VolumeId = volume.VolumeId,
            NodeId = nodeId,
            VolumeCapability = capability ?? Mount(),
            VolumeContext = { volume.VolumeContext },
        });

    public static Task<ControllerUnpublishVolumeResponse> UnpublishAsync(this CsiClient csi, string volumeId, string nodeId) =>
        csi.ControllerUnpublishVolume(new ControllerUnpublishVolumeRequest { VolumeId = volumeId, NodeId = nodeId });

    /// <summary>Every volume ListVolumes reports, following next_token (bounded).</summary>
    public static async Task<List<ListVolumesResponse.Types.Entry>> ListAllAsync(this CsiClient csi, int pageSize = 0)
    {
        var entries = new List<ListVolumesResponse.Types.Entry>();
        var token = "";
        for (var page = 0; page < 10_000; page++)
        {
            var response = await csi.ListVolumes(new ListVolumesRequest { MaxEntries = pageSize, StartingToken = token });
            entries.AddRange(response.Entries);
            if (response.NextToken.Length == 0)
            {
                return entries;
            }
            token = response.NextToken;
        }
        Assert.Fail("ListVolumes kept returning a next_token after 10000 pages");
        return entries;
    }
}
