using Csi.V1;
using CsiDriver.Rpc;
using CsiDriver.State;
using static Csi.V1.VolumeCapability.Types.AccessMode.Types;

namespace CsiDriver.Csi;

/// <summary>Which volume capabilities Formation supports, and why not when it does not.
/// Shared by the Controller and the Node so both say the same thing.</summary>
public static class VolumeCapabilities
{
    public const string DefaultFsType = "ext4";

    public static readonly IReadOnlyList<string> FsTypes = ["ext4", "xfs"];

    /// <summary>A Formation volume is attached to one node at a time: the engine that owns it
    /// runs on that node.</summary>
    public static bool IsSingleNode(Mode mode) =>
        mode is Mode.SingleNodeWriter or Mode.SingleNodeReaderOnly or Mode.SingleNodeSingleWriter or Mode.SingleNodeMultiWriter;

    public static bool IsReadOnlyMode(Mode mode) => mode is Mode.SingleNodeReaderOnly;

    /// <summary>Null when supported; otherwise what is wrong, in words for the caller.</summary>
    public static string? Unsupported(VolumeCapability capability)
    {
        if (capability.AccessTypeCase == VolumeCapability.AccessTypeOneofCase.None)
        {
            return "access_type is required (block or mount)";
        }
        if (capability.AccessMode is null || capability.AccessMode.Mode == Mode.Unknown)
        {
            return "access_mode is required";
        }
        if (!IsSingleNode(capability.AccessMode.Mode))
        {
            return $"access mode {capability.AccessMode.Mode} is not supported: a Formation volume is attached to one node at a time";
        }
        if (capability.Mount is { } mount && mount.FsType.Length > 0 && !FsTypes.Contains(mount.FsType))
        {
            return $"fs_type '{mount.FsType}' is not supported (supported: {string.Join(", ", FsTypes)})";
        }
        return null;
    }

    public static AccessType AccessTypeOf(VolumeCapability capability) =>
        capability.AccessTypeCase == VolumeCapability.AccessTypeOneofCase.Block ? AccessType.Block : AccessType.Mount;

    public static string FsTypeOf(VolumeCapability capability) =>
        capability.Mount is { FsType.Length: > 0 } mount ? mount.FsType : capability.Mount is null ? "" : DefaultFsType;

    /// <summary>Checks a request's single capability: present and supported.</summary>
    public static void RequireOne(VolumeCapability? capability, string field)
    {
        if (capability is null)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"{field} is required");
        }
        if (Unsupported(capability) is { } reason)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"{field}: {reason}");
        }
    }

    /// <summary>Checks a request's capability list: present, each supported, and all of one
    /// access type and file system (a volume is either a block device or one file system).</summary>
    public static void Require(IReadOnlyCollection<VolumeCapability> capabilities, string field)
    {
        if (capabilities.Count == 0)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"{field} is required");
        }
        foreach (var capability in capabilities)
        {
            if (Unsupported(capability) is { } reason)
            {
                throw new RpcException(StatusCode.InvalidArgument, $"{field}: {reason}");
            }
        }
        if (capabilities.Select(c => (AccessTypeOf(c), FsTypeOf(c))).Distinct().Count() > 1)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"{field} mixes access types or file systems; a volume has one");
        }
    }

    /// <summary>Null when the capability fits a volume created as <paramref name="volume"/>.</summary>
    public static string? Mismatch(VolumeCapability capability, VolumeRecord volume)
    {
        if (Unsupported(capability) is { } reason)
        {
            return reason;
        }
        if (AccessTypeOf(capability) != volume.AccessType)
        {
            return $"volume '{volume.Id}' is a {volume.AccessType.ToString().ToLowerInvariant()} volume";
        }
        if (volume.AccessType == AccessType.Mount && FsTypeOf(capability) != volume.FsType)
        {
            return $"volume '{volume.Id}' has file system {volume.FsType}, not {FsTypeOf(capability)}";
        }
        return null;
    }
}
