using System.Security.Cryptography.X509Certificates;

namespace CsiDriver.Rpc;

/// <summary>What a handler knows about the call it serves.</summary>
public sealed class CallContext
{
    internal CallContext(
        string method,
        IReadOnlyDictionary<string, string> requestHeaders,
        IReadOnlyDictionary<string, byte[]> requestBinaryHeaders,
        DateTime? deadline,
        CancellationToken cancellationToken,
        X509Certificate2? clientCertificate,
        string connectionId)
    {
        Method = method;
        RequestHeaders = requestHeaders;
        RequestBinaryHeaders = requestBinaryHeaders;
        Deadline = deadline;
        CancellationToken = cancellationToken;
        ClientCertificate = clientCertificate;
        ConnectionId = connectionId;
    }

    /// <summary>The full method path, e.g. "/csi.v1.Controller/CreateVolume".</summary>
    public string Method { get; }

    /// <summary>The caller's text metadata, keys lowercase; repeated keys joined with ",".</summary>
    public IReadOnlyDictionary<string, string> RequestHeaders { get; }

    /// <summary>The caller's binary metadata (keys ending in "-bin"), base64-decoded.</summary>
    public IReadOnlyDictionary<string, byte[]> RequestBinaryHeaders { get; }

    /// <summary>When the caller gives up (UTC), from grpc-timeout; null when none was sent.</summary>
    public DateTime? Deadline { get; }

    /// <summary>Cancelled when the deadline passes or the caller cancels or resets the call.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The validated client certificate on a mutual-TLS endpoint; null otherwise.</summary>
    public X509Certificate2? ClientCertificate { get; }

    /// <summary>The server's name for the connection the call came on: calls on one client
    /// connection share it, and a client that had to dial again gets a new one.</summary>
    public string ConnectionId { get; }
}
