namespace CsiDriver.Replication;

/// <summary>How the manager is set up by `csidriver serve` (or a test).</summary>
public sealed record ReplicationManagerOptions
{
    /// <summary>This site's name on the link (--site-id); a shipper refuses to ship to itself.</summary>
    public required string SiteId { get; init; }

    /// <summary>The owner tag ending this node's ids in a cluster (see <see cref="Engine.OwnedIds"/>):
    /// every id received on the site link is rebased onto it. Null for a standalone node.</summary>
    public string? OwnerTag { get; init; }

    /// <summary>This site's own link address (--site-link-advertise or --site-link-address), told to peers; null when not served.</summary>
    public string? SiteAddress { get; init; }

    /// <summary>The name peers' site-link certificates carry, checked instead of their address
    /// (--site-link-server-name), whichever TLS material a replication uses; null: the address.</summary>
    public string? SiteLinkServerName { get; init; }

    /// <summary>The serve flags' TLS material; per-replication secrets take precedence.</summary>
    public SiteLinkTls? DefaultTls { get; init; }

    public ShipperSettings Shipper { get; init; } = new();

    /// <summary>How long a promotion without force waits for the peer's GetRole answer.</summary>
    public TimeSpan RoleQueryTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How long a demotion waits for the backup to apply what the journal holds.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a demotion keeps waiting for the backup while the link is down.</summary>
    public TimeSpan DrainLinkGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>A receiving stream silent this long is ended (shippers send a heartbeat at least every second).</summary>
    public TimeSpan ReceiverSilenceTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeProvider Clock { get; init; } = TimeProvider.System;
}
