using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace CsiDriver.TestSupport.Tls;

/// <summary>
/// An end-entity certificate a <see cref="CertificateAuthority"/> issued, with its private key:
/// in memory for an in-process TLS server or client, as PEM text for a secret, or as PEM files
/// for a process that reads them.
/// </summary>
public sealed class IssuedCertificate : IDisposable
{
    internal IssuedCertificate(X509Certificate2 certificate, ECDsa key)
    {
        using var withKey = certificate.CopyWithPrivateKey(key);
        // A PKCS#12 round trip gives a key SslStream can use on every platform (an ephemeral
        // key attached in memory is refused by some).
        Certificate = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        KeyPem = key.ExportPkcs8PrivateKeyPem();
    }

    /// <summary>The certificate with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    public string CertificatePem => Certificate.ExportCertificatePem();

    /// <summary>The private key, PKCS#8 PEM.</summary>
    public string KeyPem { get; }

    /// <summary>Writes the certificate and the key as PEM; the key file is readable and writable by
    /// its owner alone from the moment it exists (created so, not narrowed afterwards).</summary>
    public void WritePemFiles(string certificatePath, string keyPath)
    {
        File.WriteAllText(certificatePath, CertificatePem);
        // A file already there would keep its mode when truncated: the key goes into a new one.
        File.Delete(keyPath);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using var writer = new StreamWriter(keyPath, Encoding.ASCII, options);
        writer.Write(KeyPem);
    }

    public void Dispose() => Certificate.Dispose();
}
