using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CsiDriver.Demo;

/// <summary>
/// A throwaway certificate authority for the demo's site link and one certificate per site,
/// made in-process and written as PEM files under the output directory. Each site's
/// certificate serves both ends of mutual TLS (server and client authentication) for the
/// loopback names it is reached by.
/// </summary>
public static class DemoCertificates
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromDays(7);

    /// <summary>Writes ca.pem and, per site, &lt;site&gt;.pem and &lt;site&gt;-key.pem; returns the
    /// files per site name.</summary>
    public static IReadOnlyDictionary<string, (string Certificate, string Key, string Authority)> Create(string directory, IEnumerable<string> sites)
    {
        Directory.CreateDirectory(directory);
        var now = DateTimeOffset.UtcNow.AddMinutes(-5);
        using var authorityKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var authorityRequest = new CertificateRequest("CN=Formation demo CA", authorityKey, HashAlgorithmName.SHA256);
        authorityRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        authorityRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        authorityRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(authorityRequest.PublicKey, false));
        using var authority = authorityRequest.CreateSelfSigned(now, now + Lifetime);
        var authorityFile = Path.Combine(directory, "ca.pem");
        File.WriteAllText(authorityFile, authority.ExportCertificatePem());

        var files = new Dictionary<string, (string, string, string)>(StringComparer.Ordinal);
        var serial = 1;
        foreach (var site in sites)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest($"CN=formation-{site}", key, HashAlgorithmName.SHA256);
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
                [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
            using var certificate = request.Create(authority, now, now + Lifetime, [0x01, (byte)serial++]);
            var certificateFile = Path.Combine(directory, site + ".pem");
            var keyFile = Path.Combine(directory, site + "-key.pem");
            File.WriteAllText(certificateFile, certificate.ExportCertificatePem());
            WritePrivate(keyFile, key.ExportPkcs8PrivateKeyPem());
            files[site] = (certificateFile, keyFile, authorityFile);
        }
        return files;
    }

    /// <summary>A private key readable by its owner alone from the moment it exists.</summary>
    private static void WritePrivate(string path, string text)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using var writer = new StreamWriter(path, System.Text.Encoding.ASCII, options);
        writer.Write(text);
    }
}
