using CsiDriver.NodeLink;
using CsiDriver.Controller;
using CsiDriver.Rpc;
using CsiDriver.TestSupport.Tls;
using Formation.NodeLink.V1;
using Microsoft.Extensions.Logging.Abstractions;

namespace CsiDriver.Tests.Controller;

/// <summary>A node registry on a clock the test moves, and registrations as nodes send them.</summary>
internal sealed class RegistrySetup : IDisposable
{
    public static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(15);

    private readonly CertificateAuthority _authority = new("registry-test-ca");
    private readonly IssuedCertificate _certificate;

    public RegistrySetup()
    {
        _certificate = _authority.Issue("node-link", CertificateUse.ServerAndClient, NodeLinkSettings.DefaultServerName);
        var link = new NodeLinkSettings
        {
            Listen = new HostPort("127.0.0.1", 7600),
            Advertise = new HostPort("127.0.0.1", 7600),
            Tls = new MutualTls(_certificate.Certificate, [_authority.Certificate]),
        };
        Registry = new NodeRegistry(link, NodeTimeout, Clock, NullLogger<NodeRegistry>.Instance);
    }

    public SteppedClock Clock { get; } = new();

    public NodeRegistry Registry { get; }

    public static RegisterRequest Request(string nodeId, long availableBytes = 10L << 30, string? address = null) => new()
    {
        ProtocolVersion = NodeLinkProtocol.CurrentVersion,
        NodeId = nodeId,
        Owner = Engine.OwnedIds.OwnerTagOf(nodeId),
        Topology = { ["topology.formation.csi.dev/node"] = nodeId },
        NodeLinkAddress = address ?? "10.0.0.1:7601",
        AvailableBytes = availableBytes,
        MaximumVolumeBytes = availableBytes,
        Instance = "instance-1",
    };

    public RegisteredNode Register(string nodeId, long availableBytes = 10L << 30)
    {
        Registry.Register(Request(nodeId, availableBytes));
        return Registry.Known.Single(n => n.NodeId == nodeId);
    }

    public void Dispose()
    {
        _certificate.Dispose();
        _authority.Dispose();
    }

    /// <summary>A clock that moves only when the test says so.</summary>
    internal sealed class SteppedClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
