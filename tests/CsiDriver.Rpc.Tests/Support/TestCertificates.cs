using System.Security.Cryptography.X509Certificates;
using CsiDriver.TestSupport.Tls;

namespace CsiDriver.Rpc.Tests.Support;

/// <summary>
/// Certificates for the mutual-TLS tests: a site CA with a server-only and a client-only
/// certificate, and a foreign CA with a client of its own.
/// </summary>
internal sealed class TestCertificates : IDisposable
{
    private readonly CertificateAuthority _authority = new("Formation Test Site CA");
    private readonly CertificateAuthority _foreign = new("Some Other CA");
    private readonly IssuedCertificate _server;
    private readonly IssuedCertificate _client;
    private readonly IssuedCertificate _foreignClient;

    public TestCertificates()
    {
        _server = _authority.Issue("formation-server", CertificateUse.Server);
        _client = _authority.Issue("formation-client", CertificateUse.Client);
        _foreignClient = _foreign.Issue("intruder", CertificateUse.Client);
    }

    public X509Certificate2 Authority => _authority.Certificate;

    public X509Certificate2 Server => _server.Certificate;

    public X509Certificate2 Client => _client.Certificate;

    public X509Certificate2 ForeignAuthority => _foreign.Certificate;

    public X509Certificate2 ForeignClient => _foreignClient.Certificate;

    public X509Certificate2Collection Authorities => [Authority];

    public void Dispose()
    {
        foreach (var disposable in new IDisposable[] { _server, _client, _foreignClient, _authority, _foreign })
        {
            disposable.Dispose();
        }
    }
}
