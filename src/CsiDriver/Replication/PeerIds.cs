using CsiDriver.Engine;
using Formation.SiteLink.V1;

namespace CsiDriver.Replication;

/// <summary>
/// How the ids of one replication read at the other site. Since site-link version 2 a receiver
/// rebases every id it is sent onto its own owner tag (<see cref="OwnedIds"/>): in a cluster
/// every node's ids name their node, so the replicas of node A's volumes at node B are B's ids,
/// with the same kind and random part. A version-1 receiver keeps the ids it is sent.
/// </summary>
/// <param name="Owner">The other site's owner tag (null: it has none).</param>
/// <param name="Rebased">False for a version-1 peer, whose ids are this site's.</param>
public sealed record PeerIds(string? Owner, bool Rebased)
{
    /// <summary>The peer's id for this site's <paramref name="id"/>.</summary>
    public string Of(string id) => Rebased ? OwnedIds.Rebase(id, Owner) : id;

    /// <summary>How a shipper's ids read at the receiver that answered <paramref name="opened"/>.</summary>
    public static PeerIds Receiver(Opened opened) =>
        opened.ProtocolVersion >= 2 ? new PeerIds(opened.ReplicaOwner.Length == 0 ? null : opened.ReplicaOwner, true) : new PeerIds(null, false);

    /// <summary>
    /// The receiving end's view of an Open: the same Open with every id rebased onto
    /// <paramref name="localOwner"/>, the shipper's ids by local id, and how local ids read at
    /// the shipper.
    /// </summary>
    public static (Open Local, IReadOnlyDictionary<string, string> LocalVolumeIds, PeerIds Shipper) Localize(Open open, string? localOwner)
    {
        var local = open.Clone();
        local.ReplicationId = OwnedIds.Rebase(open.ReplicationId, localOwner);
        local.GroupName = OwnedIds.Rebase(open.GroupName, localOwner);
        foreach (var volume in local.Volumes)
        {
            volume.VolumeId = OwnedIds.Rebase(volume.VolumeId, localOwner);
        }
        var byShipperId = open.Volumes.Zip(local.Volumes).ToDictionary(p => p.First.VolumeId, p => p.Second.VolumeId, StringComparer.Ordinal);
        return (local, byShipperId, new PeerIds(OwnedIds.OwnerOf(open.ReplicationId), true));
    }
}
