namespace CsiDriver.TestSupport.Tls;

/// <summary>Which end of a TLS connection an issued certificate may stand at (its extended key usage).</summary>
[Flags]
public enum CertificateUse
{
    /// <summary>serverAuth (1.3.6.1.5.5.7.3.1): a listener presents it.</summary>
    Server = 1,

    /// <summary>clientAuth (1.3.6.1.5.5.7.3.2): a dialler presents it for mutual TLS.</summary>
    Client = 2,

    /// <summary>Both: one certificate per site serves both ends of the site link.</summary>
    ServerAndClient = Server | Client,
}
