using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace CsiDriver.Rpc;

/// <summary>
/// TLS for the TCP endpoints: certificates are validated against the authorities we are given,
/// never the machine's trust store (a site link trusts its own CA, not the public web's).
/// </summary>
internal static class TlsSettings
{
    public static HttpsConnectionAdapterOptions ForServer(ServerEndpoint.Tcp endpoint)
    {
        var options = new HttpsConnectionAdapterOptions { ServerCertificate = endpoint.ServerCertificate };
        if (endpoint.ClientCertificateAuthorities is { } authorities)
        {
            options.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
            options.ClientCertificateValidation = (certificate, _, _) => ChainsTo(certificate, authorities);
        }
        return options;
    }

    /// <summary>The server's certificate must chain to <paramref name="trustedAuthorities"/> and
    /// carry the host dialled, or <paramref name="serverName"/> when one is given (HttpClient
    /// always sends and checks the dialled host, so a fixed name is checked here).</summary>
    public static SslClientAuthenticationOptions ForClient(
        string host, X509Certificate2Collection trustedAuthorities, X509Certificate2? clientCertificate, string? serverName = null) => new()
    {
        TargetHost = host,
        ClientCertificates = clientCertificate is null ? null : [clientCertificate],
        RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
        {
            if ((errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0 || certificate is null)
            {
                return false;
            }
            // The chain is judged against our authorities alone.
            var presented = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            var named = serverName is null
                ? (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0
                : presented.MatchesHostname(serverName);
            return named && ChainsTo(presented, trustedAuthorities);
        },
    };

    public static bool ChainsTo(X509Certificate2 certificate, X509Certificate2Collection authorities)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        // Private authorities publish no revocation lists.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}
