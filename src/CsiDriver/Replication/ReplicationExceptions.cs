namespace CsiDriver.Replication;

/// <summary>Base of the failures ReplicationManager reports on purpose; the csi-addons service
/// maps each to one status.</summary>
public abstract class ReplicationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>No replication of that id at this site (NOT_FOUND).</summary>
public sealed class ReplicationNotFoundException(string replicationId)
    : ReplicationException($"no replication '{replicationId}' at this site")
{
    public string ReplicationId { get; } = replicationId;
}

/// <summary>Another transition of the same replication is running (ABORTED: retry later).</summary>
public sealed class ReplicationBusyException(string replicationId)
    : ReplicationException($"an operation on replication '{replicationId}' is already in progress")
{
    public string ReplicationId { get; } = replicationId;
}

/// <summary>The transition does not apply in the replication's current role or state, or
/// conflicts with how it was enabled (FAILED_PRECONDITION).</summary>
public sealed class ReplicationStateException(string message) : ReplicationException(message);

/// <summary>Promotion without force refused: the main site answered that it is primary (FAILED_PRECONDITION).</summary>
public sealed class PeerIsPrimaryException(string replicationId, string peer)
    : ReplicationException($"replication '{replicationId}': the peer site {peer} is reachable and primary; demote it first or promote with force")
{
    public string ReplicationId { get; } = replicationId;
}

/// <summary>Promotion without force refused: the peer could not be asked whether it is primary
/// (UNAVAILABLE); promote with force when the main site is known lost.</summary>
public sealed class PeerUnreachableException(string replicationId, string peer, Exception inner)
    : ReplicationException($"replication '{replicationId}': the peer site {peer} cannot be reached to confirm it is not primary ({inner.Message}); promote with force if it is lost", inner)
{
    public string ReplicationId { get; } = replicationId;
}

/// <summary>The ids at the other site are not known yet: no stream of this replication has
/// opened since this process started (UNAVAILABLE: retry once the link is up).</summary>
public sealed class ReplicationDestinationUnknownException(string replicationId)
    : ReplicationException($"replication '{replicationId}': the other site has not answered since this node started, so its ids are not known yet; retry once the link is up")
{
    public string ReplicationId { get; } = replicationId;
}
