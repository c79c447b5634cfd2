using System.Security.Cryptography.X509Certificates;
using CsiDriver.TestSupport.Tls;

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
/// second, unrelated CA (a peer the sites must refuse). See <see cref="CertificateAuthority"/>
/// for keys, names and validity.
/// </summary>
public sealed class TestCertificates : IDisposable
{
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

    /// <summary>A site certificate signed by the shared CA, for the loopback names and
    /// <paramref name="dnsNames"/>; written once per name.</summary>
    public SiteIdentity Site(string name, params string[] dnsNames) => _trusted.Issue(name, dnsNames);

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

    /// <summary>One CA, its certificate file, and the site certificates it issued (files).</summary>
    private sealed class Authority : IDisposable
    {
        private readonly CertificateAuthority _authority;
        private readonly string _name;
        private readonly string _directory;
        private readonly Dictionary<string, SiteIdentity> _issued = new(StringComparer.Ordinal);

        public Authority(string name, string directory)
        {
            _name = name;
            _directory = directory;
            _authority = new CertificateAuthority(name);
            CertificatePath = Path.Combine(directory, name + ".crt");
            File.WriteAllText(CertificatePath, _authority.CertificatePem);
        }

        public string CertificatePath { get; }

        public SiteIdentity Issue(string site, params string[] dnsNames)
        {
            lock (_issued)
            {
                if (_issued.TryGetValue(site, out var existing))
                {
                    return existing;
                }
                // One certificate per site serves both ends of the link: the site listens with it
                // and dials its peer with it.
                using var certificate = _authority.Issue(site, CertificateUse.ServerAndClient, dnsNames);
                var prefix = Path.Combine(_directory, _name + "-" + site);
                var identity = new SiteIdentity(site, prefix + ".crt", prefix + ".key", CertificatePath);
                certificate.WritePemFiles(identity.CertificatePath, identity.KeyPath);
                _issued[site] = identity;
                return identity;
            }
        }

        public void Dispose() => _authority.Dispose();
    }
}
