using System.Runtime.Versioning;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using static CsiDriver.ConformanceTests.Replication.ReplicationCalls;
using InfoStatus = CsiAddons.Replication.GetVolumeReplicationInfoResponse.Types.Status;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>
/// A driver always starts again, whatever state its replications are in (issue 14, defect 1):
/// a replication that cannot run goes to ERROR saying why, and everything else serves. TLS
/// material given only in an enable's secrets survives the restart, stored owner-only and never
/// logged; an enable that was refused leaves nothing behind.
/// </summary>
public sealed class ReplicationRestartTests
{
    private static readonly DriverSettings Standalone = new() { CsiAddons = true };

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task Tls_given_in_the_secrets_survives_a_restart_and_is_kept_owner_only()
    {
        using var workspace = DriverWorkspace.Create();
        var peer = UnreachablePeer();
        var secrets = TlsSecrets();
        string volumeId;
        string firstOutput;
        await using (var first = await DriverProcess.StartAsync(workspace, Standalone))
        {
            using var addons = new CsiAddonsClient(workspace.CsiAddonsSocketPath);
            volumeId = (await first.Csi.CreateAsync("replicated")).VolumeId;
            await addons.Enable(EnableRequest(OfVolume(volumeId), Peer(peer), secrets));
            await first.StopAsync();
            firstOutput = first.Output.AllText;
        }

        await using var second = await DriverProcess.StartAsync(workspace, Standalone);
        using var restarted = new CsiAddonsClient(workspace.CsiAddonsSocketPath);
        var info = await EventuallyAsync(() => restarted.Info(OfVolume(volumeId)), i => i.StatusMessage.Contains(peer, StringComparison.Ordinal));

        // Shipping again with the stored material: the link is down, not the TLS missing.
        Assert.Equal(InfoStatus.Degraded, info.Status);
        Assert.DoesNotContain("TLS", info.StatusMessage, StringComparison.Ordinal);
        await second.Csi.CreateAsync("after-restart");
        var keyBody = KeyBody(secrets["tls.key"]);
        // Every file the key reached (sockets and other empty entries hold nothing) is owner-only.
        var holders = new DirectoryInfo(workspace.DataDirectory).EnumerateFiles()
            .Where(f => f.Length > 0 && File.ReadAllText(f.FullName).Contains(keyBody, StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(holders);
        Assert.All(holders, f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, f.UnixFileMode));
        Assert.DoesNotContain(keyBody, firstOutput + second.Output.AllText, StringComparison.Ordinal);
        await second.StopAsync();
    }

    [Fact]
    public async Task An_enable_refused_for_want_of_tls_leaves_nothing_behind_and_the_driver_starts_again()
    {
        using var workspace = DriverWorkspace.Create();
        var passwordOnly = new Dictionary<string, string> { ["password"] = "not-a-certificate" };
        string volumeId;
        await using (var first = await DriverProcess.StartAsync(workspace, Standalone))
        {
            using var addons = new CsiAddonsClient(workspace.CsiAddonsSocketPath);
            volumeId = (await first.Csi.CreateAsync("replicated")).VolumeId;
            var refused = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition,
                () => addons.Enable(EnableRequest(OfVolume(volumeId), Peer(UnreachablePeer()), passwordOnly)));
            Assert.Contains("TLS", refused.Message, StringComparison.Ordinal);
            await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => addons.Info(OfVolume(volumeId)));
            await first.StopAsync();
        }

        await using var second = await DriverProcess.StartAsync(workspace, Standalone);
        using var restarted = new CsiAddonsClient(workspace.CsiAddonsSocketPath);
        var failure = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => restarted.Info(OfVolume(volumeId)));
        Assert.Contains("not enabled", failure.Message, StringComparison.Ordinal);
        // Enabling it properly now works: the refused attempt left no record to conflict with.
        await restarted.Enable(EnableRequest(OfVolume(volumeId), Peer(UnreachablePeer()), TlsSecrets()));
        await second.StopAsync();
    }

    [Fact]
    public async Task A_replication_that_cannot_ship_after_a_restart_is_error_with_why_and_the_rest_serves()
    {
        using var workspace = DriverWorkspace.Create();
        using var certificates = TestCertificates.Create();
        var withSiteLink = Standalone with
        {
            SiteLink = new SiteLinkSettings(LoopbackPorts.FreeAddress(), "main", certificates.Site("main")),
        };
        var peer = UnreachablePeer();
        string volumeId;
        await using (var first = await DriverProcess.StartAsync(workspace, withSiteLink))
        {
            using var addons = new CsiAddonsClient(workspace.CsiAddonsSocketPath);
            volumeId = (await first.Csi.CreateAsync("replicated")).VolumeId;
            // No secrets: the serve flags' --site-link-* material is used.
            await addons.Enable(EnableRequest(OfVolume(volumeId), Peer(peer)));
            await first.StopAsync();
        }

        // Started again without the site-link flags: that replication has no TLS to ship with.
        await using var second = await DriverProcess.StartAsync(workspace, Standalone);
        using var restarted = new CsiAddonsClient(workspace.CsiAddonsSocketPath);
        var info = await restarted.Info(OfVolume(volumeId));
        Assert.Equal(InfoStatus.Error, info.Status);
        Assert.Contains("TLS", info.StatusMessage, StringComparison.Ordinal);
        Assert.Contains("--site-link-cert", info.StatusMessage, StringComparison.Ordinal);

        // The rest serves: volumes, and another replication with its own TLS.
        var other = (await second.Csi.CreateAsync("replicated-later")).VolumeId;
        await restarted.Enable(EnableRequest(OfVolume(other), Peer(peer), TlsSecrets()));
        // Giving the stuck one TLS through its secrets puts it back to work.
        await restarted.Enable(EnableRequest(OfVolume(volumeId), Peer(peer), TlsSecrets()));
        var recovered = await restarted.Info(OfVolume(volumeId));
        Assert.Equal(InfoStatus.Degraded, recovered.Status);
        Assert.Contains(peer, recovered.StatusMessage, StringComparison.Ordinal);
        await second.StopAsync();
    }

    private static Dictionary<string, string> Peer(string address) => new() { ["peerAddress"] = address };

    /// <summary>The base64 body of a PEM key, the part that must never leave the store.</summary>
    private static string KeyBody(string pem) => pem.Split('\n')[1].Trim();
}
