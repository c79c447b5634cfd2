using CsiDriver.Replication;
using CsiDriver.TestSupport.Tls;

namespace CsiDriver.Replication.Tests;

/// <summary>
/// A site-link CA with one certificate per site, and a foreign CA with a certificate of its own;
/// all written as PEM files into a temporary directory and loaded back, as
/// `serve --site-link-*` reads them.
/// </summary>
internal sealed class SiteLinkCertificates : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("formation-certs-").FullName;

    public SiteLinkCertificates()
    {
        using var authority = new CertificateAuthority("Formation Site Link Test CA");
        using var foreign = new CertificateAuthority("Someone Else's CA");
        AuthorityPath = Path.Combine(_directory, "ca.pem");
        File.WriteAllText(AuthorityPath, authority.CertificatePem);
        Main = Issue(authority, "main");
        Backup = Issue(authority, "backup");
        Intruder = Issue(foreign, "intruder");
    }

    public string AuthorityPath { get; }

    /// <summary>The main site's material, loaded from its files.</summary>
    public SiteLinkTls Main { get; }

    public SiteLinkTls Backup { get; }

    /// <summary>Signed by another CA, but presenting our CA as its trust: must be refused.</summary>
    public SiteLinkTls Intruder { get; }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private SiteLinkTls Issue(CertificateAuthority issuer, string name)
    {
        using var issued = issuer.Issue(name, CertificateUse.ServerAndClient);
        var certificatePath = Path.Combine(_directory, $"{name}.crt");
        var keyPath = Path.Combine(_directory, $"{name}.key");
        issued.WritePemFiles(certificatePath, keyPath);
        return SiteLinkTls.FromFiles(certificatePath, keyPath, AuthorityPath);
    }
}
