using System.Net;
using System.Net.Sockets;
using CsiAddons.Replication;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.TestSupport.Tls;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>The replication.Controller calls as the csi-addons sidecar makes them, and the
/// request pieces the single-site replication tests build them from.</summary>
public static class ReplicationCalls
{
    public static Task<TResponse> Replication<TRequest, TResponse>(this CsiAddonsClient addons, string method, TRequest request)
        where TRequest : Google.Protobuf.IMessage<TRequest>
        where TResponse : Google.Protobuf.IMessage<TResponse>, new() =>
        addons.Call<TRequest, TResponse>(ReplicationReflection.Descriptor, "Controller", method, request);

    public static Task<EnableVolumeReplicationResponse> Enable(this CsiAddonsClient addons, EnableVolumeReplicationRequest request) =>
        addons.Replication<EnableVolumeReplicationRequest, EnableVolumeReplicationResponse>("EnableVolumeReplication", request);

    public static Task<DisableVolumeReplicationResponse> Disable(this CsiAddonsClient addons, ReplicationSource source) =>
        addons.Replication<DisableVolumeReplicationRequest, DisableVolumeReplicationResponse>("DisableVolumeReplication",
            new DisableVolumeReplicationRequest { ReplicationSource = source });

    public static Task<PromoteVolumeResponse> Promote(this CsiAddonsClient addons, ReplicationSource source, bool force = false) =>
        addons.Replication<PromoteVolumeRequest, PromoteVolumeResponse>("PromoteVolume", new PromoteVolumeRequest { ReplicationSource = source, Force = force });

    public static Task<DemoteVolumeResponse> Demote(this CsiAddonsClient addons, ReplicationSource source) =>
        addons.Replication<DemoteVolumeRequest, DemoteVolumeResponse>("DemoteVolume", new DemoteVolumeRequest { ReplicationSource = source });

    public static Task<ResyncVolumeResponse> Resync(this CsiAddonsClient addons, ReplicationSource source) =>
        addons.Replication<ResyncVolumeRequest, ResyncVolumeResponse>("ResyncVolume", new ResyncVolumeRequest { ReplicationSource = source });

    public static Task<GetVolumeReplicationInfoResponse> Info(this CsiAddonsClient addons, ReplicationSource source) =>
        addons.Replication<GetVolumeReplicationInfoRequest, GetVolumeReplicationInfoResponse>("GetVolumeReplicationInfo",
            new GetVolumeReplicationInfoRequest { ReplicationSource = source });

    public static ReplicationSource OfVolume(string volumeId) => new() { Volume = new() { VolumeId = volumeId } };

    public static ReplicationSource OfGroup(string groupId) => new() { Volumegroup = new() { VolumeGroupId = groupId } };

    /// <summary>An enable request with the given VolumeReplicationClass parameters and TLS secrets.</summary>
    public static EnableVolumeReplicationRequest EnableRequest(ReplicationSource source, IDictionary<string, string> parameters, IDictionary<string, string>? secrets = null)
    {
        var request = new EnableVolumeReplicationRequest { ReplicationSource = source, ReplicationId = "vr-" + Guid.NewGuid().ToString("N")[..8] };
        request.Parameters.Add(parameters);
        if (secrets is not null)
        {
            request.Secrets.Add(secrets);
        }
        return request;
    }

    /// <summary>A loopback address where nothing listens (the port was bound, then released):
    /// connecting to it is refused at once.</summary>
    public static string UnreachablePeer()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"127.0.0.1:{port}";
    }

    /// <summary>TLS material as a csi-addons secret carries it: a throwaway CA and a site
    /// certificate it signed, with the key, all PEM.</summary>
    public static Dictionary<string, string> TlsSecrets()
    {
        using var authority = new CertificateAuthority("formation test CA");
        using var site = authority.Issue("main.site.test", CertificateUse.ServerAndClient);
        return new Dictionary<string, string>
        {
            ["tls.crt"] = site.CertificatePem,
            ["tls.key"] = site.KeyPem,
            ["ca.crt"] = authority.CertificatePem,
        };
    }

    /// <summary>Polls (bounded: 20 s) until the condition holds; fails with the last answer.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        var last = await read();
        while (!condition(last) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            last = await read();
        }
        Assert.True(condition(last), $"condition not met within 20 s; last answer: {last}");
        return last;
    }
}
