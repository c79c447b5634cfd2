namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>How one site serves the site link: its listening address (host:port on loopback),
/// its site id, and the certificate, key and CA it authenticates peers with (mutual TLS);
/// <paramref name="Advertise"/>, when set, is the address it tells peers to reach it at (a fault
/// proxy in front of it).</summary>
public sealed record SiteLinkSettings(string Address, string SiteId, SiteIdentity Identity, string? Advertise = null)
{
    public IReadOnlyList<string> Arguments() =>
    [
        "--site-link-address", Address,
        "--site-link-cert", Identity.CertificatePath,
        "--site-link-key", Identity.KeyPath,
        "--site-link-ca", Identity.CaPath,
        "--site-id", SiteId,
        .. Advertise is null ? Array.Empty<string>() : ["--site-link-advertise", Advertise],
    ];
}
