using System.Security.Cryptography.X509Certificates;

namespace CsiDriver.Rpc;

/// <summary>
/// The material of one end of a mutual-TLS link: its certificate with the private key, and the
/// authorities the other end's certificate must chain to (a link trusts its own CA, never the
/// machine's store).
/// </summary>
public sealed record MutualTls(X509Certificate2 Certificate, X509Certificate2Collection Authorities)
{
    /// <summary>From PEM files (a mounted Kubernetes TLS secret: tls.crt, tls.key, ca.crt).</summary>
    public static MutualTls FromFiles(string certificatePath, string keyPath, string authorityPath) =>
        FromPem(File.ReadAllText(certificatePath), File.ReadAllText(keyPath), File.ReadAllText(authorityPath));

    /// <summary>From PEM text.</summary>
    public static MutualTls FromPem(string certificatePem, string keyPem, string authorityPem)
    {
        using var ephemeral = X509Certificate2.CreateFromPem(certificatePem, keyPem);
        // A PKCS#12 round trip gives a key that SslStream can use on every platform.
        var certificate = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null);
        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPem(authorityPem);
        if (authorities.Count == 0)
        {
            throw new ArgumentException("the CA bundle holds no certificate", nameof(authorityPem));
        }
        return new MutualTls(certificate, authorities);
    }
}
