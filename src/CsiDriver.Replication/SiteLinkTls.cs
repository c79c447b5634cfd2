using System.Security.Cryptography.X509Certificates;
using CsiDriver.Rpc;

namespace CsiDriver.Replication;

/// <summary>
/// The mutual-TLS material of the site link: this site's certificate with its private key,
/// and the authorities a peer's certificate must chain to (the link trusts its own CA only).
/// </summary>
/// <param name="Pem">The PEM it was made from: what a replication stores when its secrets gave it.</param>
public sealed record SiteLinkTls(X509Certificate2 Certificate, X509Certificate2Collection Authorities, SiteLinkPem Pem)
{
    /// <summary>From PEM files, as `serve --site-link-cert/--site-link-key/--site-link-ca` give them.</summary>
    public static SiteLinkTls FromFiles(string certificatePath, string keyPath, string authorityPath) =>
        FromPem(new SiteLinkPem(File.ReadAllText(certificatePath), File.ReadAllText(keyPath), File.ReadAllText(authorityPath)));

    /// <summary>From PEM text, as csi-addons secrets carry it (or as a replication stored it).</summary>
    /// <exception cref="System.Security.Cryptography.CryptographicException">Not PEM, or the key is not the certificate's.</exception>
    /// <exception cref="ArgumentException">The CA bundle holds no certificate.</exception>
    public static SiteLinkTls FromPem(SiteLinkPem pem)
    {
        var tls = MutualTls.FromPem(pem.Certificate, pem.Key, pem.Authorities);
        return new SiteLinkTls(tls.Certificate, tls.Authorities, pem);
    }

    /// <summary>The name the peer's certificate must carry, checked instead of the peer's address
    /// (--site-link-server-name); null: the address is checked.</summary>
    public string? ServerName { get; init; }

    /// <summary>Same material: the same PEM (two loads of one secret are different objects).</summary>
    public bool Equals(SiteLinkTls? other) => other is not null && Pem == other.Pem;

    public override int GetHashCode() => Pem.GetHashCode();

    public override string ToString() => $"site-link TLS of {Certificate.Subject}";
}

/// <summary>Site-link TLS as PEM text: this site's certificate, its private key, the CA bundle.
/// Never shown: <see cref="ToString"/> names no part of it, so a record holding it can be logged.</summary>
public sealed record SiteLinkPem(string Certificate, string Key, string Authorities)
{
    public override string ToString() => "(site-link PEM, not shown)";
}
