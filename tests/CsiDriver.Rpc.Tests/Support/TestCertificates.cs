using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CsiDriver.Rpc.Tests.Support;

/// <summary>
/// Certificates made in-process for the mutual-TLS tests: a site CA with a server certificate
/// (127.0.0.1, localhost) and a client certificate, and a foreign CA with its own client.
/// </summary>
internal sealed class TestCertificates : IDisposable
{
    public TestCertificates()
    {
        Authority = CreateAuthority("Formation Test Site CA");
        Server = Issue(Authority, "formation-server", serverAuth: true);
        Client = Issue(Authority, "formation-client", serverAuth: false);
        ForeignAuthority = CreateAuthority("Some Other CA");
        ForeignClient = Issue(ForeignAuthority, "intruder", serverAuth: false);
    }

    public X509Certificate2 Authority { get; }

    public X509Certificate2 Server { get; }

    public X509Certificate2 Client { get; }

    public X509Certificate2 ForeignAuthority { get; }

    public X509Certificate2 ForeignClient { get; }

    public X509Certificate2Collection Authorities => [Authority];

    public void Dispose()
    {
        foreach (var certificate in new[] { Authority, Server, Client, ForeignAuthority, ForeignClient })
        {
            certificate.Dispose();
        }
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

    private static X509Certificate2 Issue(X509Certificate2 authority, string name, bool serverAuth)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        if (serverAuth)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }
        var now = DateTimeOffset.UtcNow;
        using var issued = request.Create(authority, now.AddHours(-1), now.AddHours(12), RandomNumberGenerator.GetBytes(12));
        // A PKCS#12 round trip gives a key SslStream can use on every platform.
        using var withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }
}
