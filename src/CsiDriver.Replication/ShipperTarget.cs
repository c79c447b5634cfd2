using CsiDriver.Engine;

namespace CsiDriver.Replication;

/// <summary>What one shipper ships, and where (a replication, or one volume of it in per-volume mode).</summary>
/// <param name="ReplicaGroupName">Consistency group the replicas get at the receiver (null: a group of one).</param>
/// <param name="Journal">The main-site group whose journal orders the volumes' writes.</param>
/// <param name="Consumer">The journal consumer holding records for this link.</param>
/// <param name="SiteAddress">This site's own link address, told to the receiver so it can ask GetRole.</param>
/// <param name="Replication">What the shipper asks of the replication it ships for, as it goes.</param>
public sealed record ShipperTarget(
    string ReplicationId,
    ReplicationModeKind Mode,
    string? ReplicaGroupName,
    ConsistencyGroup Journal,
    string Consumer,
    IReadOnlyList<string> VolumeIds,
    SiteLinkAddress Peer,
    SiteLinkTls Tls,
    string SiteId,
    string? SiteAddress,
    IShippedReplication Replication);

/// <summary>
/// What a primary's shipper needs from the replication it ships for, beyond its target: the
/// manager answers (<c>ReplicationManager.ShippedReplication</c>), reading and updating the
/// replication's record.
/// </summary>
public interface IShippedReplication
{
    /// <summary>The volume's size and CSI name, access type and file system, for the receiver's rows.</summary>
    VolumeDescription Describe(string volumeId);

    /// <summary>After a promotion: the cut held in common with the receiver and the promotion
    /// snapshots, the base of the failback resync; null otherwise.</summary>
    FailbackBase? FailbackBase();

    /// <summary>The receiver holds this site's image again: the promotion snapshots have done their work.</summary>
    void FailbackCompleted();

    /// <summary>The replication's epoch at this site now, sent in every Open.</summary>
    long Epoch { get; }

    /// <summary>The receiver answered the Open: how the shipped volumes' ids read there (recorded,
    /// durably before the call returns, when it differs from what the record says).</summary>
    void PeerAnswered(IReadOnlyList<string> volumeIds, PeerIds peer);

    /// <summary>The receiver answered with a newer epoch: it was promoted after this site's
    /// epoch began, and this site is fenced (durably) before the call returns.</summary>
    void Superseded(long epoch, string siteId);
}

/// <param name="CommonCutSequence">In the receiver's sequence space.</param>
/// <param name="PromotionSnapshots">Volume id → snapshot taken at the promotion.</param>
public sealed record FailbackBase(long CommonCutSequence, IReadOnlyDictionary<string, string> PromotionSnapshots);

/// <summary>Tunables of the shipper; defaults suit a WAN link, tests shorten the waits.</summary>
public sealed record ShipperSettings
{
    /// <summary>Bytes sent and not acknowledged; past it the shipper waits for acks.</summary>
    public long MaxInflightBytes { get; init; } = SiteLinkProtocol.MaxInflightBytes;

    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Reconnect delays double up to this. Small: after an outage the time until the
    /// next attempt is all lag (a catch-up waited up to 1 s for it with a 1 s cap), and an
    /// attempt on a link that is down costs only a refused or timed-out Locate.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>With messages in flight and no acknowledgement for this long, the link is deemed dead and reopened.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Connecting, TLS and the Open/Opened exchange must finish within this; an attempt
    /// stuck on a half-dead path is abandoned and retried (after the backoff).</summary>
    public TimeSpan OpenTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How often an idle shipper looks for new journal records.</summary>
    public TimeSpan IdlePoll { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>An idle link sends a heartbeat this often (it also proves the link alive).</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A backlog (journal bytes retained after the receiver's position) at least this
    /// large, and larger than the shipped volumes themselves, is caught up as one atomic cut of
    /// the chunks it changed instead of record by record: it then moves fewer bytes, in whole
    /// chunks. Below it, replaying the records is cheap and keeps the backup a prefix image
    /// throughout.</summary>
    public long CoalesceBacklogBytes { get; init; } = 64L << 20;
}
