using System.Net;
using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;
using CsiDriver.TestSupport.Tls;

namespace CsiDriver.Rpc.Tests;

public class CertificateAuthorityTests
{
    [Fact]
    public void An_issued_certificate_chains_to_its_authority_alone()
    {
        using var authority = new CertificateAuthority("Test CA");
        using var foreign = new CertificateAuthority("Test CA");
        using var ours = authority.Issue("site", CertificateUse.ServerAndClient);
        using var theirs = foreign.Issue("site", CertificateUse.ServerAndClient);

        Assert.True(ChainsTo(ours.Certificate, authority.Certificate));
        // Same names, other key: trust follows the key, not the name.
        Assert.False(ChainsTo(theirs.Certificate, authority.Certificate));
        Assert.True(ours.Certificate.HasPrivateKey);
        Assert.False(authority.Certificate.HasPrivateKey);
    }

    [Fact]
    public void An_issued_certificate_lies_within_its_authority_validity()
    {
        using var authority = new CertificateAuthority("Test CA", TimeSpan.FromDays(7));
        using var issued = authority.Issue("site", CertificateUse.Server);

        Assert.InRange(issued.Certificate.NotBefore, authority.Certificate.NotBefore, DateTime.Now);
        Assert.InRange(issued.Certificate.NotAfter, DateTime.Now.AddDays(6), authority.Certificate.NotAfter);
    }

    [Theory]
    [InlineData(CertificateUse.Server, new[] { "1.3.6.1.5.5.7.3.1" })]
    [InlineData(CertificateUse.Client, new[] { "1.3.6.1.5.5.7.3.2" })]
    [InlineData(CertificateUse.ServerAndClient, new[] { "1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2" })]
    public void An_issued_certificate_names_its_use_and_the_loopback_names(CertificateUse use, string[] usages)
    {
        using var authority = new CertificateAuthority("Test CA");
        using var issued = authority.Issue("site", use);

        var eku = Assert.Single(issued.Certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>());
        Assert.Equal(usages, eku.EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value));
        var names = Assert.Single(issued.Certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>());
        Assert.Equal([IPAddress.Loopback], names.EnumerateIPAddresses());
        Assert.Equal(["localhost"], names.EnumerateDnsNames());
        Assert.True(issued.Certificate.MatchesHostname("127.0.0.1") && issued.Certificate.MatchesHostname("localhost"));
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public void Pem_files_load_back_and_the_key_is_its_owners_alone()
    {
        using var authority = new CertificateAuthority("Test CA");
        using var issued = authority.Issue("site", CertificateUse.ServerAndClient);
        var directory = Directory.CreateTempSubdirectory("formation-ca-test-");
        try
        {
            var certificatePath = Path.Combine(directory.FullName, "site.crt");
            var keyPath = Path.Combine(directory.FullName, "site.key");
            // A key file already there, readable by all, is replaced rather than reused.
            File.WriteAllText(keyPath, "old");
            File.SetUnixFileMode(keyPath, (UnixFileMode)0b110_100_100);

            issued.WritePemFiles(certificatePath, keyPath);

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));
            using var loaded = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            Assert.Equal(issued.Certificate.Thumbprint, loaded.Thumbprint);
            Assert.True(loaded.HasPrivateKey);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>As the transport judges a peer: against the given authority alone.</summary>
    private static bool ChainsTo(X509Certificate2 certificate, X509Certificate2 authority) =>
        TlsSettings.ChainsTo(certificate, [authority]);
}
