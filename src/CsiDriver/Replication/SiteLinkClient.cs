using CsiDriver.Rpc;
using Formation.SiteLink.V1;

namespace CsiDriver.Replication;

/// <summary>Calls to a peer's site link over mutual TLS: this site's certificate is presented,
/// the peer's is checked against the link's authorities only.</summary>
public sealed class SiteLinkClient(SiteLinkAddress peer, SiteLinkTls tls) : IDisposable
{
    private readonly GrpcClient _client = GrpcClient.ForTcp(peer.Host, peer.Port, tls.Authorities, tls.Certificate, tls.ServerName);

    public SiteLinkAddress Peer => peer;

    public DuplexCall<ShipperMessage, ReceiverMessage> Replicate(CancellationToken cancellationToken) =>
        _client.Duplex<ShipperMessage, ReceiverMessage>(SiteLinkProtocol.ReplicateMethod, new CallOptions { CancellationToken = cancellationToken });

    public async Task<GetRoleResponse> GetRoleAsync(string replicationId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var response = await _client.UnaryAsync<GetRoleRequest, GetRoleResponse>(
            SiteLinkProtocol.GetRoleMethod,
            new GetRoleRequest { ProtocolVersion = SiteLinkProtocol.CurrentVersion, ReplicationId = replicationId },
            new CallOptions { Timeout = timeout, CancellationToken = cancellationToken }).ConfigureAwait(false);
        SiteLinkProtocol.CheckVersion(response.ProtocolVersion);
        return response;
    }

    /// <summary>Where this replication's stream goes, as the peer says (a backup cluster's
    /// controller names one of its nodes); null from a version-1 peer, which receives it itself.</summary>
    public async Task<LocateResponse?> LocateAsync(LocateRequest request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        request.ProtocolVersion = SiteLinkProtocol.CurrentVersion;
        try
        {
            var response = await _client.UnaryAsync<LocateRequest, LocateResponse>(
                SiteLinkProtocol.LocateMethod, request, new CallOptions { Timeout = timeout, CancellationToken = cancellationToken }).ConfigureAwait(false);
            SiteLinkProtocol.CheckVersion(response.ProtocolVersion);
            return response;
        }
        catch (RpcException e) when (e.Status == StatusCode.Unimplemented)
        {
            return null;
        }
    }

    public void Dispose() => _client.Dispose();
}
