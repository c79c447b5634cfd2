using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using SnapshotPurpose = CsiDriver.Engine.SnapshotPurpose;
using StorageEngine = CsiDriver.Engine.StorageEngine;

namespace CsiDriver.ConformanceTests;

/// <summary>The csidriver process itself: command line, socket lifecycle, graceful stop, and
/// state that survives a restart or a crash. Each test runs its own process.</summary>
public sealed class DriverProcessTests
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Serve_help_names_every_flag()
    {
        var (exitCode, output) = await DriverCommand.RunToExitAsync(["serve", "--help"], CommandTimeout);

        Assert.Equal(0, exitCode);
        string[] flags = ["--endpoint", "--node-id", "--data-dir", "--driver-name", "--csiaddons-endpoint", "--log-format", "--capacity-limit", "--overcommit-ratio", "--max-volumes-per-node"];
        Assert.All(flags, flag => Assert.Contains(flag, output.AllText));
    }

    [Fact]
    public async Task A_start_without_an_endpoint_is_refused()
    {
        using var workspace = DriverWorkspace.Create();

        var (exitCode, output) = await DriverCommand.RunToExitAsync(["serve", "--node-id", "n1", "--data-dir", workspace.DataDirectory], CommandTimeout);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("--endpoint", output.AllText);
    }

    [Theory]
    [InlineData("-leading-dash.example")]
    [InlineData("under_score.example")]
    [InlineData("a-name-far-longer-than-sixty-three-characters-is-refused-by-the-spec.example")]
    public async Task A_bad_driver_name_is_refused_at_start(string name)
    {
        // spec: GetPluginInfoResponse.name — domain name notation, at most 63 characters.
        using var workspace = DriverWorkspace.Create();
        var arguments = new DriverSettings { DriverName = name }.Arguments(workspace);

        var (exitCode, output) = await DriverCommand.RunToExitAsync(arguments, CommandTimeout);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("driver-name", output.AllText);
        Assert.False(File.Exists(workspace.SocketPath), "a refused start must not leave a socket");
    }

    [Fact]
    public async Task A_custom_driver_name_is_reported()
    {
        using var workspace = DriverWorkspace.Create();
        await using var driver = await DriverProcess.StartAsync(workspace, new DriverSettings { DriverName = "orders.formation.example" });

        Assert.Equal("orders.formation.example", (await driver.Csi.GetPluginInfo()).Name);
        await driver.StopAsync();
    }

    [Fact]
    public async Task Sigterm_stops_gracefully_and_removes_both_sockets()
    {
        using var workspace = DriverWorkspace.Create();
        await using var driver = await DriverProcess.StartAsync(workspace, new DriverSettings { CsiAddons = true });
        Assert.True(File.Exists(workspace.CsiAddonsSocketPath), "--csiaddons-endpoint should create its socket");

        await driver.StopAsync(); // asserts exit code 0 and the CSI socket gone

        Assert.False(File.Exists(workspace.CsiAddonsSocketPath), "the csi-addons socket should be removed on SIGTERM");
    }

    [Fact]
    public async Task A_restart_finds_every_volume_and_attachment()
    {
        using var workspace = DriverWorkspace.Create();
        Volume published, idle;
        string name;
        ControllerPublishVolumeResponse attachment;
        await using (var first = await DriverProcess.StartAsync(workspace))
        {
            name = Volumes.UniqueName("survivor");
            published = (await first.Csi.CreateVolume(Volumes.Request(name, requiredBytes: 16 * Volumes.MiB))).Volume;
            idle = await first.Csi.CreateAsync("idle", Volumes.Block(), requiredBytes: 8 * Volumes.MiB);
            attachment = await first.Csi.PublishAsync(published, first.NodeId);
            await first.StopAsync();
        }

        await using var second = await DriverProcess.StartAsync(workspace);

        var entries = await second.Csi.ListAllAsync();
        var publishedEntry = Assert.Single(entries, e => e.Volume.VolumeId == published.VolumeId);
        var idleEntry = Assert.Single(entries, e => e.Volume.VolumeId == idle.VolumeId);
        Assert.Equal(published, publishedEntry.Volume);
        Assert.Equal(idle, idleEntry.Volume);
        Assert.Equal([second.NodeId], publishedEntry.Status.PublishedNodeIds);
        Assert.Empty(idleEntry.Status.PublishedNodeIds);
        // Idempotency holds across the restart: same name → same volume, same publish → same context.
        Assert.Equal(published.VolumeId, (await second.Csi.CreateVolume(Volumes.Request(name, requiredBytes: 16 * Volumes.MiB))).Volume.VolumeId);
        Assert.Equal(attachment.PublishContext, (await second.Csi.PublishAsync(published, second.NodeId)).PublishContext);
        await second.StopAsync();
    }

    [Fact]
    public async Task After_a_crash_the_stale_socket_is_replaced_and_acknowledged_state_survives()
    {
        using var workspace = DriverWorkspace.Create();
        Volume volume;
        await using (var first = await DriverProcess.StartAsync(workspace))
        {
            volume = await first.Csi.CreateAsync("crash-survivor", requiredBytes: 8 * Volumes.MiB);
            await first.Csi.PublishAsync(volume, first.NodeId);
            await first.CrashAsync();
        }
        Assert.True(File.Exists(workspace.SocketPath), "SIGKILL leaves the socket file behind");

        await using var second = await DriverProcess.StartAsync(workspace);

        var status = await second.Csi.ControllerGetVolume(volume.VolumeId);
        Assert.Equal(volume, status.Volume);
        Assert.Equal([second.NodeId], status.Status.PublishedNodeIds);
        await second.StopAsync();
    }

    [Fact]
    public async Task Snapshots_the_engine_or_replication_keep_are_neither_leftovers_nor_csi_snapshots()
    {
        // Start-up removes snapshots an interrupted CreateSnapshot left without a row; it decides
        // by the snapshot's purpose, as DeleteSnapshot does, never by its name.
        using var workspace = DriverWorkspace.Create();
        var engineDirectory = Path.Combine(workspace.DataDirectory, "engine");
        using (var engine = StorageEngine.Open(engineDirectory))
        {
            engine.CreateVolume("vol-before", Volumes.MiB);
            engine.CreateSnapshot("vol-before", "image-at-a-promotion", SnapshotPurpose.ReplicationImage);
            engine.CreateSnapshot("vol-before", "repl-looks-like-replications"); // taken on request: a leftover
        }

        await using (var driver = await DriverProcess.StartAsync(workspace))
        {
            await driver.Csi.DeleteSnapshot("image-at-a-promotion"); // no CSI snapshot: it does not exist to CSI
            await driver.StopAsync();
        }

        using var after = StorageEngine.Open(engineDirectory);
        Assert.Equal(SnapshotPurpose.ReplicationImage, after.FindSnapshot("image-at-a-promotion")?.Purpose);
        Assert.Null(after.FindSnapshot("repl-looks-like-replications"));
    }

    [Fact]
    public async Task Unknown_methods_and_services_on_the_socket_are_unimplemented()
    {
        // spec: Error Scheme — "Call not implemented: 12 UNIMPLEMENTED". grpc-go clients (kubelet,
        // the sidecars) need a real gRPC status here, not an HTTP 404.
        using var workspace = DriverWorkspace.Create();
        await using var driver = await DriverProcess.StartAsync(workspace);

        foreach (var path in new[] { "/csi.v1.Controller/NoSuchMethod", "/no.such.Service/Call" })
        {
            await RpcAssert.FailsAsync(StatusCode.Unimplemented, () =>
                driver.Csi.Grpc.UnaryAsync<ProbeRequest, ProbeResponse>(path, new ProbeRequest(), new CallOptions { Timeout = TimeSpan.FromSeconds(10) }));
        }
        Assert.True((await driver.Csi.Probe()).Ready is null or true, "the driver keeps serving after unknown methods");
        await driver.StopAsync();
    }

    [Fact]
    public async Task Controller_calls_are_unavailable_only_until_probe_says_ready()
    {
        // spec: ProbeResponse.ready — while initializing, Probe succeeds with ready=false and
        // "Calls to the plugin's Controller and/or Node services MAY fail"; once ready=true they
        // are served. The driver's choice for "not yet" is UNAVAILABLE. A state with volumes
        // makes the loading window longer, so it is more likely to be seen.
        using var workspace = DriverWorkspace.Create();
        await using (var seeding = await DriverProcess.StartAsync(workspace))
        {
            for (var i = 0; i < 20; i++)
            {
                await seeding.Csi.CreateAsync("seed", requiredBytes: Volumes.MiB);
            }
            await seeding.StopAsync();
        }

        await using var driver = DriverProcess.Launch(workspace);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var ready = false;
        while (!ready)
        {
            Assert.True(DateTime.UtcNow < deadline, $"never ready; output:\n{driver.Output.AllText}");
            ProbeResponse probe;
            try
            {
                probe = await driver.Csi.Probe(TimeSpan.FromSeconds(2));
            }
            catch (RpcException e) when (e.Status is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
            {
                // Not listening yet, or a cold process on a busy machine answered too late.
                await Task.Delay(5);
                continue;
            }
            ready = probe.Ready is null or true;
            try
            {
                Assert.Equal(20, (await driver.Csi.ListAllAsync()).Count);
            }
            catch (RpcException e)
            {
                Assert.False(ready, $"ListVolumes failed with {e.Status} after Probe said ready: {e.Message}");
                Assert.Equal(StatusCode.Unavailable, e.Status);
            }
        }
        await driver.StopAsync();
    }
}
