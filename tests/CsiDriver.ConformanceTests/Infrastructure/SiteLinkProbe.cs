using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>
/// Knocks on a site-link port as a peer site would, below gRPC: a TLS handshake offering h2 with
/// a chosen client certificate (or none), then the HTTP/2 connection preface and an empty
/// SETTINGS frame. A server that accepted the peer answers with its own SETTINGS frame; one that
/// refused it fails the handshake or closes the connection (with TLS 1.3 the client's certificate
/// is judged after the client has finished its side of the handshake, so a refusal can surface
/// on the first read).
/// </summary>
public static class SiteLinkProbe
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();
    private static readonly byte[] EmptySettings = [0, 0, 0, 4, 0, 0, 0, 0, 0];
    private const byte SettingsFrame = 4;

    /// <param name="Accepted">The server spoke HTTP/2 to us.</param>
    /// <param name="Detail">What happened, for assertion messages.</param>
    public sealed record Outcome(bool Accepted, string Detail);

    /// <summary>Connects to <paramref name="address"/>, validating the server against
    /// <paramref name="trustedCa"/>, and presents <paramref name="clientCertificate"/>.</summary>
    public static async Task<Outcome> KnockAsync(string address, X509Certificate2 trustedCa, X509Certificate2? clientCertificate)
    {
        using var deadline = new CancellationTokenSource(Timeout);
        using var tcp = new TcpClient();
        var endpoint = IPEndPoint.Parse(address);
        await tcp.ConnectAsync(endpoint, deadline.Token);
        await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = endpoint.Address.ToString(),
            ApplicationProtocols = [SslApplicationProtocol.Http2],
            // Presented whatever CAs the server says it accepts: an impostor would try anyway.
            LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate!,
            CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                CustomTrustStore = { trustedCa },
                RevocationMode = X509RevocationMode.NoCheck,
            },
        };
        try
        {
            await tls.AuthenticateAsClientAsync(options, deadline.Token);
            await tls.WriteAsync(Preface, deadline.Token);
            await tls.WriteAsync(EmptySettings, deadline.Token);
            await tls.FlushAsync(deadline.Token);
            var header = new byte[9];
            var read = await tls.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, deadline.Token);
            if (read < header.Length)
            {
                return new Outcome(false, $"connection closed after {read} bytes");
            }
            return header[3] == SettingsFrame
                ? new Outcome(true, $"HTTP/2 SETTINGS received over {tls.SslProtocol} ({tls.NegotiatedApplicationProtocol})")
                : new Outcome(false, $"first frame was type {header[3]}, not SETTINGS");
        }
        catch (Exception e) when (e is AuthenticationException or IOException or SocketException)
        {
            return new Outcome(false, $"{e.GetType().Name}: {e.Message}");
        }
    }
}
