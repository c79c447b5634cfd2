using CsiDriver.ConformanceTests.Infrastructure;
using Xunit.Abstractions;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>The site link is mutual TLS: a site speaks only to a peer whose certificate its CA
/// signed. Checked below gRPC (a raw TLS knock on the backup's site-link port) and end to end (a
/// main site holding a certificate from another CA cannot replicate).</summary>
[Collection(TwoSitesCollection.Name)]
public sealed class SiteLinkSecurityTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_client_certificate_from_another_CA_is_refused_and_none_at_all_too()
    {
        await using var sites = await TwoSites.StartAsync();
        using var ca = sites.Certificates.LoadCa();
        using var trusted = sites.Certificates.Site("main").Load();
        using var impostor = sites.Certificates.Foreign("main").Load();

        var accepted = await SiteLinkProbe.KnockAsync(sites.Backup.SiteLinkAddress, ca, trusted);
        var refused = await SiteLinkProbe.KnockAsync(sites.Backup.SiteLinkAddress, ca, impostor);
        var anonymous = await SiteLinkProbe.KnockAsync(sites.Backup.SiteLinkAddress, ca, clientCertificate: null);

        output.WriteLine($"trusted: {accepted.Detail}; impostor: {refused.Detail}; anonymous: {anonymous.Detail}");
        Assert.True(accepted.Accepted, $"a peer with the site CA's certificate was refused: {accepted.Detail}");
        Assert.False(refused.Accepted, $"a peer with another CA's certificate was accepted: {refused.Detail}");
        Assert.False(anonymous.Accepted, $"a peer without a certificate was accepted: {anonymous.Detail}");
    }

    [Fact]
    public async Task A_main_site_with_a_certificate_from_another_CA_cannot_replicate()
    {
        await using var sites = await TwoSites.StartAsync();
        await sites.Main.RestartAsAsync(sites.Certificates.Foreign("main"));
        await using var group = await ReplicatedGroup.StartAsync(sites);

        await group.EnableAsync();
        // Several connection attempts, each refused, counted at the proxy (bounded: a hang guard).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (sites.Link.ConnectionsAccepted < 3)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {sites.Link.ConnectionsAccepted} connection attempts within 60 s");
            await Task.Delay(50);
        }
        var info = await sites.Main.Addons.GroupReplicationInfoAsync(group.GroupId);
        var atBackup = await sites.Backup.Csi.ListAllAsync();

        output.WriteLine($"main reports: {info}");
        Assert.False(ReplicatedGroup.Replicating(info), $"replicating with a refused certificate: {info}");
        Assert.NotEqual(CsiAddons.Replication.GetVolumeReplicationInfoResponse.Types.Status.Healthy, info.Status);
        Assert.False(string.IsNullOrWhiteSpace(info.StatusMessage), "a failing replication must say why");
        Assert.Empty(atBackup);
        Assert.True(sites.Link.BytesForwarded > 0, "the main site never even tried to reach the backup");
    }
}
