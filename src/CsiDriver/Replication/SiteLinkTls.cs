using System.Security.Cryptography.X509Certificates;

namespace CsiDriver.Replication;

/// <summary>
/// The mutual-TLS material of the site link: this site's certificate with its private key,
/// and the authorities a peer's certificate must chain to (the link trusts its own CA only).
/// </summary>
public sealed record SiteLinkTls(X509Certificate2 Certificate, X509Certificate2Collection Authorities)
{
    /// <summary>From PEM files, as `serve --site-link-cert/--site-link-key/--site-link-ca` give them.</summary>
    public static SiteLinkTls FromFiles(string certificatePath, string keyPath, string authorityPath) =>
        FromPem(File.ReadAllText(certificatePath), File.ReadAllText(keyPath), File.ReadAllText(authorityPath));

    /// <summary>From PEM text, as csi-addons secrets carry it.</summary>
    public static SiteLinkTls FromPem(string certificatePem, string keyPem, string authorityPem)
    {
        using var ephemeral = X509Certificate2.CreateFromPem(certificatePem, keyPem);
        // A PKCS#12 round trip gives a key that SslStream can use on every platform.
        var certificate = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null);
        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPem(authorityPem);
        if (authorities.Count == 0)
        {
            throw new ArgumentException("the site-link CA bundle holds no certificate", nameof(authorityPem));
        }
        return new SiteLinkTls(certificate, authorities);
    }
}
