using CsiDriver.Rpc;
using Formation.NodeLink.V1;
using Google.Protobuf.Reflection;

namespace CsiDriver.NodeLink;

/// <summary>The node link's versions and methods (proto/nodelink/nodelink.proto describes the protocol).</summary>
public static class NodeLinkProtocol
{
    /// <summary>Version this build speaks; carried by every NodeRegistry and NodeCatalog message.</summary>
    public const uint CurrentVersion = 1;

    /// <summary>Oldest peer version this build still understands.</summary>
    public const uint MinCompatibleVersion = 1;

    public static ServiceDescriptor Registry { get; } = NodelinkReflection.Descriptor.Services.Single(s => s.Name == "NodeRegistry");

    public static ServiceDescriptor Catalog { get; } = NodelinkReflection.Descriptor.Services.Single(s => s.Name == "NodeCatalog");

    public static MethodDescriptor RegisterMethod => Registry.FindMethodByName("Register");

    public static MethodDescriptor FindMethod => Catalog.FindMethodByName("Find");

    /// <summary>Refuses a peer outside [MinCompatibleVersion, CurrentVersion].</summary>
    public static void CheckVersion(uint peerVersion)
    {
        if (peerVersion < MinCompatibleVersion || peerVersion > CurrentVersion)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"node-link protocol version {peerVersion} is incompatible: this end speaks versions {MinCompatibleVersion} to {CurrentVersion}; run one csidriver version across the cluster");
        }
    }
}
