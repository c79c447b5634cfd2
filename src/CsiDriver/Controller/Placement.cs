using Csi.V1;
using CsiDriver.Rpc;

namespace CsiDriver.Controller;

/// <summary>
/// Where a new volume (or an empty volume group, or a replica set) goes. The CSI spec's order:
/// the nodes of accessibility_requirements.preferred in their order first, then the rest of
/// requisite by most free capacity; with no requirements, every node by most free capacity.
/// A node qualifies when it is up and its last registration reported room for the size.
/// </summary>
public sealed class Placement(NodeRegistry registry)
{
    /// <summary>The nodes the requirements allow, best first (every known node when there are none).</summary>
    public IReadOnlyList<RegisteredNode> Candidates(TopologyRequirement? requirements)
    {
        var allowed = registry.Known.Where(n => Allows(requirements, n)).ToList();
        var preferred = (requirements?.Preferred ?? []).SelectMany(t => allowed.Where(n => n.Matches(t.Segments)));
        return preferred.Concat(ByFreeCapacity(allowed)).Distinct().ToList();
    }

    /// <summary>Whether the requirements allow <paramref name="node"/>.</summary>
    public static bool Allows(TopologyRequirement? requirements, RegisteredNode node) =>
        requirements is null || requirements.Requisite.Count == 0 || requirements.Requisite.Any(t => node.Matches(t.Segments));

    /// <summary>The first candidate that is up and reported room for <paramref name="bytes"/>;
    /// UNAVAILABLE when only nodes that are down might have had room, RESOURCE_EXHAUSTED (the
    /// spec's "unable to provision in accessible_topology") naming every candidate otherwise.</summary>
    public RegisteredNode Choose(IReadOnlyList<RegisteredNode> candidates, long bytes, string what)
    {
        if (candidates.Count == 0)
        {
            throw new RpcException(registry.Known.Count == 0 ? StatusCode.Unavailable : StatusCode.ResourceExhausted, registry.Known.Count == 0
                ? "no node is registered with this controller (yet): start the node DaemonSet, or wait one renewal after a controller restart"
                : $"no registered node matches the accessibility requirements of {what} (nodes: {string.Join(", ", registry.Known.Select(n => n.NodeId))})");
        }
        if (candidates.FirstOrDefault(n => !registry.IsDown(n) && n.Current.AvailableBytes >= bytes) is { } chosen)
        {
            return chosen;
        }
        var down = candidates.Where(registry.IsDown).ToList();
        if (down.Count > 0)
        {
            throw new RpcException(StatusCode.Unavailable,
                $"no node that is up has room for {what} ({bytes} bytes); {string.Join("; ", down.Select(registry.DownReason))}");
        }
        throw new RpcException(StatusCode.ResourceExhausted,
            $"no allowed node has room for {what} ({bytes} bytes): {string.Join(", ", candidates.Select(n => $"{n.NodeId} has {n.Current.AvailableBytes}"))}");
    }

    private static List<RegisteredNode> ByFreeCapacity(IEnumerable<RegisteredNode> nodes) =>
        nodes.OrderByDescending(n => n.Current.AvailableBytes).ThenBy(n => n.NodeId, StringComparer.Ordinal).ToList();
}
