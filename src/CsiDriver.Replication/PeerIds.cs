using CsiDriver.Engine;

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

    /// <summary>How a shipper's ids read at a receiver that opened the stream in
    /// <paramref name="protocolVersion"/>, naming <paramref name="replicaOwner"/> (empty: none).</summary>
    public static PeerIds Receiver(uint protocolVersion, string replicaOwner) =>
        protocolVersion >= 2 ? new PeerIds(replicaOwner.Length == 0 ? null : replicaOwner, true) : new PeerIds(null, false);

    /// <summary>
    /// The receiving end's view of a stream: the same request with every id rebased onto
    /// <paramref name="localOwner"/>, the shipper's ids by local id, and how local ids read at
    /// the shipper.
    /// </summary>
    public static (StreamRequest Local, IReadOnlyDictionary<string, string> LocalVolumeIds, PeerIds Shipper) Localize(StreamRequest request, string? localOwner)
    {
        var volumes = request.Volumes.Select(v => v with { VolumeId = OwnedIds.Rebase(v.VolumeId, localOwner) }).ToList();
        var local = request with
        {
            ReplicationId = OwnedIds.Rebase(request.ReplicationId, localOwner),
            GroupName = request.GroupName is { } group ? OwnedIds.Rebase(group, localOwner) : null,
            Volumes = volumes,
        };
        var byShipperId = request.Volumes.Zip(volumes).ToDictionary(p => p.First.VolumeId, p => p.Second.VolumeId, StringComparer.Ordinal);
        return (local, byShipperId, new PeerIds(OwnedIds.OwnerOf(request.ReplicationId), true));
    }
}
