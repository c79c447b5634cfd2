using Csi.V1;
using CsiDriver.Csi;
using CsiDriver.Rpc;
using CsiDriver.State;
using static Csi.V1.VolumeCapability.Types;

namespace CsiDriver.Tests.Csi;

public class VolumeCapabilitiesTests
{
    private static VolumeCapability Mount(string fsType, AccessMode.Types.Mode mode = AccessMode.Types.Mode.SingleNodeWriter) =>
        new() { Mount = new MountVolume { FsType = fsType }, AccessMode = new AccessMode { Mode = mode } };

    private static VolumeCapability Block(AccessMode.Types.Mode mode = AccessMode.Types.Mode.SingleNodeWriter) =>
        new() { Block = new BlockVolume(), AccessMode = new AccessMode { Mode = mode } };

    [Fact]
    public void Single_node_mount_and_block_are_supported()
    {
        Assert.Null(VolumeCapabilities.Unsupported(Mount("")));
        Assert.Null(VolumeCapabilities.Unsupported(Mount("xfs", AccessMode.Types.Mode.SingleNodeReaderOnly)));
        Assert.Null(VolumeCapabilities.Unsupported(Block(AccessMode.Types.Mode.SingleNodeMultiWriter)));
        Assert.Equal("ext4", VolumeCapabilities.FsTypeOf(Mount("")));
        Assert.Equal("", VolumeCapabilities.FsTypeOf(Block()));
    }

    [Fact]
    public void Unsupported_capabilities_say_why()
    {
        Assert.Contains("MultiNodeMultiWriter", VolumeCapabilities.Unsupported(Mount("ext4", AccessMode.Types.Mode.MultiNodeMultiWriter)));
        Assert.Contains("btrfs", VolumeCapabilities.Unsupported(Mount("btrfs")));
        Assert.Contains("access_type", VolumeCapabilities.Unsupported(new VolumeCapability { AccessMode = new AccessMode { Mode = AccessMode.Types.Mode.SingleNodeWriter } }));
        Assert.Contains("access_mode", VolumeCapabilities.Unsupported(new VolumeCapability { Block = new BlockVolume() }));
    }

    [Fact]
    public void A_request_may_not_mix_block_and_mount()
    {
        var error = Assert.Throws<RpcException>(() => VolumeCapabilities.Require([Mount("ext4"), Block()], "volume_capabilities"));
        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Throws<RpcException>(() => VolumeCapabilities.Require([], "volume_capabilities"));
    }

    [Fact]
    public void Mismatch_compares_with_the_volume_as_created()
    {
        var volume = new VolumeRecord { Id = "vol-1", Name = "n", CapacityBytes = 4096, AccessType = AccessType.Mount, FsType = "xfs" };
        Assert.Null(VolumeCapabilities.Mismatch(Mount("xfs"), volume));
        Assert.Contains("xfs", VolumeCapabilities.Mismatch(Mount("ext4"), volume));
        Assert.Contains("mount volume", VolumeCapabilities.Mismatch(Block(), volume));
    }
}
