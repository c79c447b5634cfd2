using CsiDriver.Rpc;
using Formation.SiteLink.V1;

namespace CsiDriver.Replication;

/// <summary>Calls to a peer's site link over mutual TLS: this site's certificate is presented,
/// the peer's is checked against the link's authorities only. The client end of the link's
/// edge: what the transport says becomes a <see cref="LinkFailedException"/> here.</summary>
public sealed class SiteLinkClient(SiteLinkAddress peer, SiteLinkTls tls) : IDisposable
{
    private readonly GrpcClient _client = GrpcClient.ForTcp(peer.Host, peer.Port, tls.Authorities, tls.Certificate, tls.ServerName);

    public SiteLinkAddress Peer => peer;

    public DuplexCall<ShipperMessage, ReceiverMessage> Replicate(CancellationToken cancellationToken) =>
        _client.Duplex<ShipperMessage, ReceiverMessage>(SiteLinkProtocol.ReplicateMethod, new CallOptions { CancellationToken = cancellationToken });

    /// <summary>The replication's role at the peer (null: the peer knows no replication of that id).</summary>
    /// <exception cref="LinkFailedException">The peer could not be asked, or refused the question.</exception>
    /// <exception cref="IncompatiblePeerException">The peer answered in a protocol version this site does not speak.</exception>
    public async Task<PeerRole> GetRoleAsync(string replicationId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        GetRoleResponse response;
        try
        {
            response = await _client.UnaryAsync<GetRoleRequest, GetRoleResponse>(
                SiteLinkProtocol.GetRoleMethod,
                new GetRoleRequest { ProtocolVersion = SiteLinkProtocol.CurrentVersion, ReplicationId = replicationId },
                new CallOptions { Timeout = timeout, CancellationToken = cancellationToken }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or HttpRequestException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            throw Failed(e);
        }
        SiteLinkProtocol.CheckVersion(response.ProtocolVersion);
        return new PeerRole(SiteLinkProtocol.FromWire(response.Role), response.SiteId, response.Epoch);
    }

    /// <summary>Fences the replication at the peer: from the answer on it accepts no write,
    /// because this site takes <paramref name="epoch"/>.</summary>
    /// <exception cref="LinkFailedException">The peer could not be asked, predates Fence
    /// (UNIMPLEMENTED), or refused (it is primary at the same or a newer epoch).</exception>
    /// <exception cref="IncompatiblePeerException">The peer answered in a protocol version this site does not speak.</exception>
    public async Task<PeerFenced> FenceAsync(string replicationId, long epoch, string siteId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        FenceResponse response;
        try
        {
            response = await _client.UnaryAsync<FenceRequest, FenceResponse>(
                SiteLinkProtocol.FenceMethod,
                new FenceRequest { ProtocolVersion = SiteLinkProtocol.CurrentVersion, ReplicationId = replicationId, Epoch = epoch, SiteId = siteId },
                new CallOptions { Timeout = timeout, CancellationToken = cancellationToken }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or HttpRequestException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            throw Failed(e);
        }
        SiteLinkProtocol.CheckVersion(response.ProtocolVersion);
        return new PeerFenced(response.Epoch, response.LastSequences.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal));
    }

    /// <summary>Where the stream of <paramref name="replicationId"/> goes, as the peer says (a
    /// backup cluster's controller names one of its nodes); null from a version-1 peer, which
    /// receives it itself.</summary>
    /// <param name="previousOwner">The owner tag the peer named last time (null: none yet).</param>
    /// <exception cref="LinkFailedException">The peer could not be asked, or refused the question.</exception>
    /// <exception cref="IncompatiblePeerException">The peer answered in a protocol version this site does not speak.</exception>
    public async Task<Located?> LocateAsync(string replicationId, string siteId, string? previousOwner, IEnumerable<VolumeDescription> volumes,
        TimeSpan timeout, CancellationToken cancellationToken)
    {
        var request = new LocateRequest { ProtocolVersion = SiteLinkProtocol.CurrentVersion, ReplicationId = replicationId, SiteId = siteId, PreviousOwner = previousOwner ?? "" };
        request.Volumes.AddRange(volumes.Select(SiteLinkProtocol.ToWire));
        LocateResponse response;
        try
        {
            response = await _client.UnaryAsync<LocateRequest, LocateResponse>(
                SiteLinkProtocol.LocateMethod, request, new CallOptions { Timeout = timeout, CancellationToken = cancellationToken }).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.Status == StatusCode.Unimplemented)
        {
            return null;
        }
        catch (Exception e) when (e is RpcException or HttpRequestException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            throw Failed(e);
        }
        SiteLinkProtocol.CheckVersion(response.ProtocolVersion);
        return new Located(response.Address.Length == 0 ? null : SiteLinkAddress.Parse(response.Address), response.Owner.Length == 0 ? null : response.Owner);
    }

    public void Dispose() => _client.Dispose();

    /// <summary>A transport failure as the replication sees its link: a status the peer sent
    /// keeps its code in the reason, and FAILED_PRECONDITION (the peer will not take it) is a refusal.</summary>
    internal static LinkFailedException Failed(Exception e) => new(
        e is RpcException rpc
            ? new LinkFailure($"{rpc.Status}: {rpc.Message}", Refused: rpc.Status == StatusCode.FailedPrecondition)
            : new LinkFailure(e.Message, Refused: false),
        e);
}

/// <summary>A peer's answer to GetRole: the replication's role there (null: it knows none of
/// that id), the peer's site id and its epoch (0 from a peer that predates epochs).</summary>
public sealed record PeerRole(ReplicationRole? Role, string SiteId, long Epoch);

/// <summary>A peer's answer to Fence: its epoch, and per volume (the peer's ids) the newest
/// sequence of its journal at the fencing point.</summary>
public sealed record PeerFenced(long Epoch, IReadOnlyDictionary<string, long> LastSequences);

/// <summary>A peer's answer to Locate: the site link of the node that receives the stream (null:
/// the peer itself) and that node's owner tag (null: it has none).</summary>
public sealed record Located(SiteLinkAddress? Address, string? Owner);
