using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace CsiDriver.Rpc;

/// <summary>Where a <see cref="GrpcServer"/> listens.</summary>
public abstract record ServerEndpoint
{
    private ServerEndpoint()
    {
    }

    /// <summary>HTTP/2 cleartext on a unix socket at an absolute path.</summary>
    public sealed record UnixSocket(string Path) : ServerEndpoint;

    /// <summary>
    /// HTTP/2 over TLS on TCP. A non-null <paramref name="ClientCertificateAuthorities"/> makes the
    /// endpoint mutual TLS: a client certificate is required and must chain to one of them.
    /// </summary>
    public sealed record Tcp(IPEndPoint EndPoint, X509Certificate2 ServerCertificate, X509Certificate2Collection? ClientCertificateAuthorities)
        : ServerEndpoint;

    /// <summary>Parses a CSI-style endpoint: "unix:///abs/path" or "unix:/abs/path".</summary>
    public static ServerEndpoint Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        const string scheme = "unix:";
        if (!uri.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException($"Endpoint '{uri}' is not supported: expected unix:///absolute/path or unix:/absolute/path.");
        }
        var rest = uri[scheme.Length..];
        // "unix:///p" carries an empty authority before the path; "unix:/p" has none.
        var path = rest.StartsWith("//", StringComparison.Ordinal) ? rest[2..] : rest;
        if (path.Length < 2 || path[0] != '/' || path.StartsWith("//", StringComparison.Ordinal))
        {
            throw new FormatException($"Endpoint '{uri}' has no absolute socket path: expected unix:///absolute/path or unix:/absolute/path.");
        }
        return new UnixSocket(path);
    }
}
