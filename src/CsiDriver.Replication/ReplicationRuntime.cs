using CsiDriver.Engine;

namespace CsiDriver.Replication;

/// <summary>
/// One replication while the driver runs: its record, the gate that makes transitions one at a
/// time, its shippers (primary) or receiving streams (secondary), and each link's status.
/// Guarded by <see cref="Lock"/> except the gate.
/// </summary>
internal sealed class ReplicationRuntime(ReplicationRecord record)
{
    public Lock Lock { get; } = new();

    /// <summary>Held by a transition (enable, disable, promote, demote, resync); a second one gets Busy.</summary>
    public SemaphoreSlim Gate { get; } = new(1, 1);

    public ReplicationRecord Record { get; set; } = record;

    /// <summary>TLS its secrets gave (loaded from the record); null: the serve flags' material
    /// is used for shipping and GetRole queries.</summary>
    public SiteLinkTls? Tls { get; set; }

    /// <summary>Why it cannot run (no TLS to ship with, a volume gone), as GetInfo reports it
    /// with ERROR; null while nothing stops it. Cleared by an enable that starts it.</summary>
    public string? Fault { get; set; }

    /// <summary>False for a first enable that has not yet recorded it (it is forgotten if that
    /// enable fails).</summary>
    public bool Persisted { get; set; }

    public List<JournalShipper> Shippers { get; } = [];

    /// <summary>Shippers taken out under the lock, to be stopped (awaited) outside it.</summary>
    public List<JournalShipper> Stopping { get; } = [];

    /// <summary>Receiving streams by link key (volume id in per-volume mode, "" for the group).</summary>
    public Dictionary<string, ReceiverLease> Receivers { get; } = new(StringComparer.Ordinal);

    /// <summary>Status of the receiving side by link key; kept across streams.</summary>
    public Dictionary<string, LinkStatus> ReceiverStatus { get; } = new(StringComparer.Ordinal);

    /// <summary>Set while a promotion or disable takes the replicas away from the shipper: new streams are refused.</summary>
    public bool Closing { get; set; }

    public IEnumerable<LinkStatus> Links => Shippers.Select(s => s.Status).Concat(ReceiverStatus.Values);
}

/// <summary>A receiving stream accepted by the manager; disposing it ends its registration.</summary>
public sealed class ReceiverLease : IDisposable
{
    private readonly CancellationTokenSource _superseded = new();
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<ReceiverLease> _release;

    internal ReceiverLease(string replicationId, string linkKey, ConsistencyGroup journal, IReadOnlySet<string> volumeIds, LinkStatus status, ChunkSetBuilder? divergence, Action<ReceiverLease> release)
    {
        ReplicationId = replicationId;
        LinkKey = linkKey;
        Journal = journal;
        VolumeIds = volumeIds;
        Status = status;
        Divergence = divergence;
        _release = release;
    }

    public string ReplicationId { get; }

    public string LinkKey { get; }

    /// <summary>The replicas' group at this site.</summary>
    public ConsistencyGroup Journal { get; }

    public IReadOnlySet<string> VolumeIds { get; }

    public LinkStatus Status { get; }

    /// <summary>Set for a failback: what this site wrote after the common cut.</summary>
    public ChunkSetBuilder? Divergence { get; }

    /// <summary>Cancelled when a newer stream, a promotion or a disable takes over.</summary>
    public CancellationToken Superseded => _superseded.Token;

    internal Task Ended => _ended.Task;

    internal void Supersede() => _superseded.Cancel();

    public void Dispose()
    {
        _release(this);
        _ended.TrySetResult();
        _superseded.Dispose();
    }
}
