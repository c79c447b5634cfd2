namespace CsiDriver.Replication;

/// <summary>
/// What this site remembers of one replication across restarts: how it was enabled, its role,
/// and after a promotion the last cut held in common with the old primary (the base of a
/// failback resync). Kept by an <see cref="IReplicationStore"/>.
/// </summary>
public sealed record ReplicationRecord
{
    public required string Id { get; init; }

    public required IReadOnlyList<string> VolumeIds { get; init; }

    public string? GroupName { get; init; }

    /// <summary>host:port of the other site's link; null at a backup that was never told it
    /// and has not yet heard it from the shipper's Open.</summary>
    public string? PeerAddress { get; init; }

    public ReplicationModeKind Mode { get; init; }

    public long? JournalBudgetBytes { get; init; }

    public ReplicationRole Role { get; init; }

    /// <summary>
    /// The epoch of the newest primary this site knows of: its own at a primary (1 when enabled
    /// as the main, one more than the one it followed after a promotion), the shipper's at a
    /// backup. 0 in records older than epochs. Saved before the role it belongs to takes effect.
    /// </summary>
    public long Epoch { get; init; }

    /// <summary>Primary only: set while it must refuse writes (see <see cref="ReplicationFence"/>).</summary>
    public ReplicationFence? Fence { get; init; }

    /// <summary>Primary after a promotion: what became of the old primary's last writes.</summary>
    public PromotionOutcome? Promotion { get; init; }

    /// <summary>Secondary only: Demoted and AwaitingResync (a demoted primary before and
    /// after ResyncAsync); Waiting for an ordinary backup.</summary>
    public ReplicationState SecondaryState { get; init; } = ReplicationState.Waiting;

    /// <summary>Primary after a promotion: the source sequence the backup had applied when
    /// promoted, in the old primary's sequence space (0: none).</summary>
    public long CommonCutSequence { get; init; }

    /// <summary>Primary after a promotion: per journal shipped, the snapshot taken at the
    /// promotion; chunks changed since then are what the old primary lacks.</summary>
    public IReadOnlyDictionary<string, string> PromotionSnapshots { get; init; } = new Dictionary<string, string>();

    /// <summary>Secondary resyncing after a demotion: per journal, a snapshot of the old image
    /// that protects it until the resync completes.</summary>
    public IReadOnlyDictionary<string, string> ProtectionSnapshots { get; init; } = new Dictionary<string, string>();

    /// <summary>The parameters it was enabled with at this site, against which a repeated enable
    /// is compared; null at a backup that learnt it from the shipper's Open and was not asked.</summary>
    public IReadOnlyDictionary<string, string>? Parameters { get; init; }

    /// <summary>How each volume's ids read at the other site (volume id → the peer's ids), as the
    /// receiver of its link answered (primary) or the shipping site's Open named them (backup):
    /// saved when first heard or changed, so GetReplicationDestinationInfo answers after a
    /// restart while the other site is down. Only what the peer said: a crash before it is saved
    /// loses nothing the next Open does not tell again. Empty in records older than schema 6.</summary>
    public IReadOnlyDictionary<string, PeerIds> Peers { get; init; } = new Dictionary<string, PeerIds>();

    /// <summary>Link TLS given with the enable (the replication's secrets), kept so shipping
    /// resumes after a restart; null: the serve flags' material. Never shown (see <see cref="SiteLinkPem"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public SiteLinkPem? Tls { get; init; }
}
