using System.Security.Cryptography.X509Certificates;
using CsiDriver.Rpc;

namespace CsiDriver.Replication;

/// <summary>
/// The mutual-TLS material of the site link: this site's certificate with its private key,
/// and the authorities a peer's certificate must chain to (the link trusts its own CA only).
/// </summary>
public sealed record SiteLinkTls(X509Certificate2 Certificate, X509Certificate2Collection Authorities)
{
    /// <summary>From PEM files, as `serve --site-link-cert/--site-link-key/--site-link-ca` give them.</summary>
    public static SiteLinkTls FromFiles(string certificatePath, string keyPath, string authorityPath) =>
        From(MutualTls.FromFiles(certificatePath, keyPath, authorityPath));

    /// <summary>From PEM text, as csi-addons secrets carry it.</summary>
    public static SiteLinkTls FromPem(string certificatePem, string keyPem, string authorityPem) =>
        From(MutualTls.FromPem(certificatePem, keyPem, authorityPem));

    /// <summary>The name the peer's certificate must carry, checked instead of the peer's address
    /// (--site-link-server-name); null: the address is checked.</summary>
    public string? ServerName { get; init; }

    private static SiteLinkTls From(MutualTls tls) => new(tls.Certificate, tls.Authorities);
}
