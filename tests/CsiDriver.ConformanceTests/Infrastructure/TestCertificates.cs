using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>The PEM files one site presents on the site link: its certificate (valid as a TLS
/// server and as a client, for 127.0.0.1 and localhost), its private key, and the CA bundle it
/// trusts peers by.</summary>
public sealed record SiteIdentity(string Name, string CertificatePath, string KeyPath, string CaPath)
{
    /// <summary>The certificate with its key, for an in-process TLS client or server.</summary>
    public X509Certificate2 Load() => X509Certificate2.CreateFromPemFile(CertificatePath, KeyPath);
}

/// <summary>
/// An in-process test PKI written as PEM files into a temporary directory: one CA every site of
/// the test trusts, a certificate per site signed by it, and on request identities signed by a
/// second, unrelated CA (a peer the sites must refuse). ECDSA P-256 keys, SHA-256 signatures;
/// valid from an hour ago for a day, so clock skew between the test and the driver is harmless.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    private readonly Authority _trusted;
    private readonly Lazy<Authority> _foreign;

    private TestCertificates(string directory)
    {
        Directory = directory;
        _trusted = new Authority("formation-test-ca", directory);
        _foreign = new Lazy<Authority>(() => new Authority("unrelated-ca", directory));
    }

    public string Directory { get; }

    /// <summary>The CA bundle every site trusts.</summary>
    public string CaPath => _trusted.CertificatePath;

    public static TestCertificates Create() => new(System.IO.Directory.CreateTempSubdirectory("fcsi-pki-").FullName);

    /// <summary>A site certificate signed by the shared CA; written once per name.</summary>
    public SiteIdentity Site(string name) => _trusted.Issue(name);

    /// <summary>A certificate signed by an unrelated CA, presented as <paramref name="name"/> and
    /// trusting only that CA: what an impostor site would hold.</summary>
    public SiteIdentity Foreign(string name) => _foreign.Value.Issue(name);

    /// <summary>The shared CA, for an in-process peer that validates the driver's certificate.</summary>
    public X509Certificate2 LoadCa() => X509Certificate2.CreateFromPem(File.ReadAllText(CaPath));

    public void Dispose()
    {
        _trusted.Dispose();
        if (_foreign.IsValueCreated)
        {
            _foreign.Value.Dispose();
        }
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Left to the system's temp cleaner rather than failing a test over a leftover file.
        }
    }

    /// <summary>One CA: its self-signed certificate and key, and the leaf certificates it issued.</summary>
    private sealed class Authority : IDisposable
    {
        private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        private readonly X509Certificate2 _certificate;
        private readonly string _name;
        private readonly string _directory;
        private readonly Dictionary<string, SiteIdentity> _issued = new(StringComparer.Ordinal);

        public Authority(string name, string directory)
        {
            _name = name;
            _directory = directory;
            var request = new CertificateRequest($"CN={name}, O=Formation tests", _key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
            var (notBefore, notAfter) = Validity();
            _certificate = request.CreateSelfSigned(notBefore, notAfter);
            CertificatePath = Path.Combine(directory, name + ".crt");
            File.WriteAllText(CertificatePath, _certificate.ExportCertificatePem());
        }

        public string CertificatePath { get; }

        public SiteIdentity Issue(string site)
        {
            lock (_issued)
            {
                if (_issued.TryGetValue(site, out var existing))
                {
                    return existing;
                }
                using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                var request = new CertificateRequest($"CN={site}, O=Formation tests", key, HashAlgorithmName.SHA256);
                request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
                request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
                // One certificate per site serves both ends of the link: the site listens with it
                // and dials its peer with it.
                request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuth, ClientAuth], critical: false));
                var names = new SubjectAlternativeNameBuilder();
                names.AddDnsName("localhost");
                names.AddIpAddress(IPAddress.Loopback);
                request.CertificateExtensions.Add(names.Build());
                request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
                request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
                // Issued within the CA's own validity (computed a moment earlier, so "now" differs).
                using var certificate = request.Create(
                    _certificate, _certificate.NotBefore.ToUniversalTime(), _certificate.NotAfter.ToUniversalTime(), RandomNumberGenerator.GetBytes(16));
                var prefix = Path.Combine(_directory, _name + "-" + site);
                var identity = new SiteIdentity(site, prefix + ".crt", prefix + ".key", CertificatePath);
                File.WriteAllText(identity.CertificatePath, certificate.ExportCertificatePem());
                File.WriteAllText(identity.KeyPath, key.ExportPkcs8PrivateKeyPem());
                _issued[site] = identity;
                return identity;
            }
        }

        public void Dispose()
        {
            _certificate.Dispose();
            _key.Dispose();
        }

        private static (DateTimeOffset NotBefore, DateTimeOffset NotAfter) Validity()
        {
            var now = DateTimeOffset.UtcNow;
            return (now.AddHours(-1), now.AddDays(1));
        }
    }
}
