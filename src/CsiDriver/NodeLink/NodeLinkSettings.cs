using CsiDriver.Rpc;

namespace CsiDriver.NodeLink;

/// <summary>
/// One end of the node link (proto/nodelink/nodelink.proto), as the command line gives it:
/// where it listens, the address peers dial, the mutual-TLS files, and the name every node-link
/// certificate carries. A peer is checked against that name, never its address: the nodes' and
/// the controller's addresses are pod IPs that no certificate could list in advance.
/// </summary>
public sealed record NodeLinkSettings
{
    public const string DefaultServerName = "formation-node-link";

    /// <summary>host:port to listen on.</summary>
    public required HostPort Listen { get; init; }

    /// <summary>host:port the other end dials to reach this one.</summary>
    public required HostPort Advertise { get; init; }

    public required MutualTls Tls { get; init; }

    public string ServerName { get; init; } = DefaultServerName;

    /// <summary>The TCP endpoint serving the node link: mutual TLS, clients checked against the CA.</summary>
    public ServerEndpoint ListenEndpoint() => new ServerEndpoint.Tcp(Listen.ToListenEndPoint(), Tls.Certificate, Tls.Authorities);

    /// <summary>A client of the node link at <paramref name="address"/>: presents this end's
    /// certificate and wants the server's to chain to the CA and carry <see cref="ServerName"/>.</summary>
    public GrpcClient Dial(HostPort address) =>
        GrpcClient.ForTcp(address.Host, address.Port, Tls.Authorities, Tls.Certificate, ServerName);
}
