using CsiDriver.Replication;
using CsiDriver.Rpc;
using Formation.SiteLink.V1;

namespace CsiDriver.Replication.Tests;

/// <summary>The site link as a peer sees it: mutual TLS against our CA, GetRole, versioning.</summary>
public sealed class SiteLinkServiceTests : BackupSiteTests
{
    [Fact]
    public async Task A_peer_of_our_authority_is_answered()
    {
        using var client = new SiteLinkClient(SiteLinkAddress.Parse(Backup.Address), Certificates.Main);
        var answer = await client.GetRoleAsync("orders", TimeSpan.FromSeconds(5), default);
        Assert.Null(answer.Role);
        Assert.Equal("backup", answer.SiteId);
    }

    [Fact]
    public async Task A_client_certificate_of_another_authority_is_refused()
    {
        using var intruder = new SiteLinkClient(SiteLinkAddress.Parse(Backup.Address), Certificates.Intruder);
        var refused = await Assert.ThrowsAsync<LinkFailedException>(() => intruder.GetRoleAsync("orders", TimeSpan.FromSeconds(5), default));
        Assert.Equal(StatusCode.Unavailable, Assert.IsType<RpcException>(refused.InnerException).Status);
        Assert.False(refused.Failure.Refused);
    }

    [Fact]
    public async Task A_main_site_with_a_foreign_certificate_ships_nothing()
    {
        await using var main = new TestSite("main", Certificates.Intruder);
        await main.StartLinkAsync();
        main.Engine.CreateVolume("solo", Volumes.Size);
        await main.Manager.EnableAsync(new ReplicationSpec("solo", ["solo"], null, Backup.Address), default);

        await Volumes.WaitUntilAsync(() => main.Manager.GetInfo("solo").HealthMessage.Contains("down", StringComparison.Ordinal), "the refused link to show");
        Assert.Equal(ReplicationHealth.Degraded, main.Manager.GetInfo("solo").Health);
        Assert.Null(Backup.Engine.FindVolume("solo"));
        Assert.Null(Backup.Manager.RoleOf("solo"));
    }

    [Fact]
    public async Task An_incompatible_protocol_version_is_refused_with_a_clear_status()
    {
        using var client = GrpcClient.ForTcp("127.0.0.1", Backup.Port, Certificates.Main.Authorities, Certificates.Main.Certificate);
        var refused = await Assert.ThrowsAsync<RpcException>(() => client.UnaryAsync<GetRoleRequest, GetRoleResponse>(
            SiteLinkProtocol.GetRoleMethod, new GetRoleRequest { ProtocolVersion = SiteLinkProtocol.CurrentVersion + 1, ReplicationId = "orders" }));
        Assert.Equal(StatusCode.FailedPrecondition, refused.Status);
        Assert.Contains($"version {SiteLinkProtocol.CurrentVersion + 1} is incompatible", refused.Message, StringComparison.Ordinal);

        await using var call = client.Duplex<ShipperMessage, ReceiverMessage>(SiteLinkProtocol.ReplicateMethod);
        await call.WriteAsync(new ShipperMessage { Open = new Open { ProtocolVersion = 0, ReplicationId = "orders" } });
        var stream = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.ToListAsync());
        Assert.Equal(StatusCode.FailedPrecondition, stream.Status);
    }

    [Fact]
    public async Task A_batch_that_leaves_a_gap_is_refused_and_changes_nothing()
    {
        using var client = GrpcClient.ForTcp("127.0.0.1", Backup.Port, Certificates.Main.Authorities, Certificates.Main.Certificate);
        await using var call = client.Duplex<ShipperMessage, ReceiverMessage>(SiteLinkProtocol.ReplicateMethod);
        var open = new Open { ProtocolVersion = SiteLinkProtocol.CurrentVersion, ReplicationId = "solo", Mode = ReplicationMode.Group, SiteId = "main" };
        open.Volumes.Add(new ReplicaVolume { VolumeId = "solo", SizeBytes = Volumes.Size });
        await call.WriteAsync(new ShipperMessage { Open = open });
        await using var responses = call.ResponseStream.GetAsyncEnumerator();
        Assert.True(await responses.MoveNextAsync());
        Assert.Equal(0, responses.Current.Opened.AppliedSequence);
        Assert.True(Backup.Engine.GetVolume("solo").IsReadOnly);

        await call.WriteAsync(new ShipperMessage { Batch = new Batch { AfterSequence = 5, LastSequence = 6 } });
        var gap = await Assert.ThrowsAsync<RpcException>(async () => await responses.MoveNextAsync());
        Assert.Equal(StatusCode.FailedPrecondition, gap.Status);
        Assert.Equal(0, Backup.Engine.GetReplicaPosition(Backup.Engine.GetVolume("solo").Group).SourceSequence);
    }
}
