namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>How one site serves the site link: its listening address (host:port on loopback),
/// its site id, and the certificate, key and CA it authenticates peers with (mutual TLS).</summary>
public sealed record SiteLinkSettings(string Address, string SiteId, SiteIdentity Identity)
{
    public IReadOnlyList<string> Arguments() =>
    [
        "--site-link-address", Address,
        "--site-link-cert", Identity.CertificatePath,
        "--site-link-key", Identity.KeyPath,
        "--site-link-ca", Identity.CaPath,
        "--site-id", SiteId,
    ];
}
