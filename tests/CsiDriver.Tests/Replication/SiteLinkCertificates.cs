using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CsiDriver.Replication;

namespace CsiDriver.Tests.Replication;

/// <summary>
/// A site-link CA made in-process with one certificate per site (server and client use, valid
/// for 127.0.0.1 and localhost), and a foreign CA with a certificate of its own; all written as
/// PEM files into a temporary directory, as `serve --site-link-*` reads them.
/// </summary>
internal sealed class SiteLinkCertificates : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("formation-certs-").FullName;

    public SiteLinkCertificates()
    {
        using var authority = CreateAuthority("Formation Site Link Test CA");
        using var foreign = CreateAuthority("Someone Else's CA");
        AuthorityPath = WritePem("ca.pem", authority.ExportCertificatePem());
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

    private SiteLinkTls Issue(X509Certificate2 issuer, string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.Create(issuer, now.AddHours(-1), now.AddHours(12), RandomNumberGenerator.GetBytes(12));
        var certificatePath = WritePem($"{name}.crt", certificate.ExportCertificatePem());
        var keyPath = WritePem($"{name}.key", key.ExportPkcs8PrivateKeyPem());
        return SiteLinkTls.FromFiles(certificatePath, keyPath, AuthorityPath);
    }

    private static X509Certificate2 CreateAuthority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddDays(-1), now.AddDays(1));
    }

    private string WritePem(string name, string pem)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, pem);
        return path;
    }
}
