namespace CsiDriver.Replication;

/// <summary>Base of the failures ReplicationManager reports on purpose. They say what went wrong
/// in the replication's terms; which status each becomes is the front end's, decided in one
/// place (for csi-addons ReplicationService.Errors.cs, for the site link SiteLinkErrors.cs).</summary>
public abstract class ReplicationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>No replication of that id at this site.</summary>
public sealed class ReplicationNotFoundException(string replicationId)
    : ReplicationException($"no replication '{replicationId}' at this site")
{
    public string ReplicationId { get; } = replicationId;
}

/// <summary>Another transition of the same replication is running: retry later.</summary>
public sealed class ReplicationBusyException(string replicationId)
    : ReplicationException($"an operation on replication '{replicationId}' is already in progress")
{
    public string ReplicationId { get; } = replicationId;
}

/// <summary>The transition does not apply in the replication's current role or state, or
/// conflicts with the volumes, mode or group it was enabled with.</summary>
public sealed class ReplicationStateException(string message) : ReplicationException(message);

/// <summary>An enable repeated with other parameters than the replication was enabled with.</summary>
public sealed class ReplicationConflictException(string message) : ReplicationException(message);

/// <summary>The peer speaks a site-link protocol version outside the ones this build speaks.</summary>
public sealed class IncompatiblePeerException(string message) : ReplicationException(message);

/// <summary>A site-link message that breaks the protocol (an unknown kind, a length that does not
/// match its payload, a volume the stream did not name).</summary>
public sealed class MalformedMessageException(string message) : ReplicationException(message);

/// <summary>Promotion without force refused: the main site answered that it is primary.</summary>
public sealed class PeerIsPrimaryException(string replicationId, string peer)
    : ReplicationException($"replication '{replicationId}': the peer site {peer} is reachable and primary; demote it first or promote with force")
{
    public string ReplicationId { get; } = replicationId;
}

/// <summary>Promotion without force refused: the peer could not be asked whether it is primary;
/// promote with force when the main site is known lost.</summary>
public sealed class PeerUnreachableException(string replicationId, string peer, Exception inner)
    : ReplicationException($"replication '{replicationId}': the peer site {peer} cannot be reached to confirm it is not primary ({inner.Message}); promote with force if it is lost", inner)
{
    public string ReplicationId { get; } = replicationId;
}

/// <summary>The ids at the other site are not known yet: some link of this replication has
/// never opened a stream (UNAVAILABLE: retry once the link is up).</summary>
public sealed class ReplicationDestinationUnknownException(string replicationId)
    : ReplicationException($"replication '{replicationId}': the other site has not yet answered on every link, so its ids are not known yet; retry once the link is up")
{
    public string ReplicationId { get; } = replicationId;
}

/// <summary>This site is fenced: another site took the primary role at a newer epoch (or this one
/// is being demoted), so it neither accepts writes nor may be promoted again; demote it and
/// resync it from the new primary.</summary>
public sealed class ReplicationFencedException(string replicationId, ReplicationFence fence)
    : ReplicationException($"replication '{replicationId}' is fenced at this site: {fence.Reason}")
{
    public string ReplicationId { get; } = replicationId;
}

/// <summary>A shipper opened a stream at an older epoch than this site's: the site that sent it
/// was superseded. The receiver tells it its epoch (Opened.epoch) and refuses the stream.</summary>
public sealed class StaleShipperException(string replicationId, long shipperEpoch, long epoch)
    : ReplicationException($"replication '{replicationId}': the shipper is at epoch {shipperEpoch}, superseded by epoch {epoch} here; it is fenced and must be demoted and resynced")
{
    public long Epoch { get; } = epoch;
}
