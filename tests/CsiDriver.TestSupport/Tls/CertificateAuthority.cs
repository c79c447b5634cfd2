using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CsiDriver.TestSupport.Tls;

/// <summary>
/// A throwaway certificate authority made in memory, for the demo and the tests: ECDSA P-256
/// keys, SHA-256 signatures. It issues end-entity certificates for the loopback names
/// (127.0.0.1 and localhost) that servers and clients here are reached by. Nothing it makes is
/// meant for production: the site link of a real deployment gets its certificates from the
/// operator.
/// </summary>
public sealed class CertificateAuthority : IDisposable
{
    /// <summary>How far back validity starts, so that clock skew between the process that made a
    /// certificate and the one that checks it is harmless.</summary>
    private static readonly TimeSpan Backdating = TimeSpan.FromHours(1);

    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    private readonly X509Certificate2 _signer;

    /// <summary>A self-signed CA named <c>CN=<paramref name="name"/></c>, valid from a little in the
    /// past for <paramref name="lifetime"/> (one day unless given).</summary>
    public CertificateAuthority(string name, TimeSpan? lifetime = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(
            certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        // "Now" taken once and cut to whole seconds, as X.509 stores it, so that the window read
        // back from the certificate is the window asked for.
        var now = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        _signer = request.CreateSelfSigned(now - Backdating, now + (lifetime ?? TimeSpan.FromDays(1)));
        Certificate = X509CertificateLoader.LoadCertificate(_signer.RawData);
    }

    /// <summary>The CA's certificate without its key: what peers trust.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The CA's certificate as PEM, a CA bundle of one.</summary>
    public string CertificatePem => Certificate.ExportCertificatePem();

    /// <summary>A certificate named <c>CN=<paramref name="name"/></c> for the loopback names (and
    /// <paramref name="dnsNames"/>, e.g. the one name a cluster's node-link certificates carry),
    /// with its own new key, valid for the CA's whole window: a certificate may not outlive its
    /// issuer, and one that starts before it does not chain.</summary>
    public IssuedCertificate Issue(string name, CertificateUse use, params string[] dnsNames)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(
            certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(Usages(use), critical: false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        foreach (var dnsName in dnsNames)
        {
            names.AddDnsName(dnsName);
        }
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(
            _signer, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        using var issued = request.Create(_signer, _signer.NotBefore, _signer.NotAfter, SerialNumber());
        return new IssuedCertificate(issued, key);
    }

    public void Dispose()
    {
        _signer.Dispose();
        Certificate.Dispose();
    }

    private static OidCollection Usages(CertificateUse use)
    {
        var usages = new OidCollection();
        if (use.HasFlag(CertificateUse.Server))
        {
            usages.Add(ServerAuthentication);
        }
        if (use.HasFlag(CertificateUse.Client))
        {
            usages.Add(ClientAuthentication);
        }
        return usages;
    }

    /// <summary>Random, so that no two certificates of one CA share a serial; the top bit cleared
    /// because RFC 5280 wants it positive.</summary>
    private static byte[] SerialNumber()
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        return serial;
    }
}
