using CsiAddons.Replication;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using static CsiDriver.ConformanceTests.Replication.ReplicationCalls;
using InfoStatus = CsiAddons.Replication.GetVolumeReplicationInfoResponse.Types.Status;

namespace CsiDriver.ConformanceTests.Replication;

/// <summary>
/// replication.Controller on one csidriver process (csi-addons spec, replication/README.md):
/// every call's validation and error codes, idempotency, and an enabled replication whose peer
/// cannot be reached reporting why. Two sites replicating are the end-to-end suite's.
/// </summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class ReplicationServiceTests : IClassFixture<CsiAddonsDriverFixture>, IDisposable
{
    private readonly CsiAddonsDriverFixture _fixture;
    private readonly CsiAddonsClient _addons;

    public ReplicationServiceTests(CsiAddonsDriverFixture fixture)
    {
        _fixture = fixture;
        _addons = new CsiAddonsClient(fixture.CsiAddonsSocketPath);
    }

    public void Dispose() => _addons.Dispose();

    private static Dictionary<string, string> Parameters(string peer, params (string Key, string Value)[] more)
    {
        var parameters = new Dictionary<string, string> { ["peerAddress"] = peer };
        foreach (var (key, value) in more)
        {
            parameters[key] = value;
        }
        return parameters;
    }

    private async Task<string> VolumeAsync() => (await _fixture.Csi.CreateAsync("replicated")).VolumeId;

    /// <summary>Every call with the given source, as the sidecar sends it.</summary>
    private Func<Task>[] EveryCall(ReplicationSource? source) =>
    [
        () => _addons.Enable(new EnableVolumeReplicationRequest { ReplicationSource = source, Parameters = { Parameters(UnreachablePeer()) } }),
        () => _addons.Replication<DisableVolumeReplicationRequest, DisableVolumeReplicationResponse>("DisableVolumeReplication",
            new DisableVolumeReplicationRequest { ReplicationSource = source }),
        () => _addons.Replication<PromoteVolumeRequest, PromoteVolumeResponse>("PromoteVolume", new PromoteVolumeRequest { ReplicationSource = source }),
        () => _addons.Replication<DemoteVolumeRequest, DemoteVolumeResponse>("DemoteVolume", new DemoteVolumeRequest { ReplicationSource = source }),
        () => _addons.Replication<ResyncVolumeRequest, ResyncVolumeResponse>("ResyncVolume", new ResyncVolumeRequest { ReplicationSource = source }),
        () => _addons.Replication<GetVolumeReplicationInfoRequest, GetVolumeReplicationInfoResponse>("GetVolumeReplicationInfo",
            new GetVolumeReplicationInfoRequest { ReplicationSource = source }),
        () => _addons.Replication<GetReplicationDestinationInfoRequest, GetReplicationDestinationInfoResponse>("GetReplicationDestinationInfo",
            new GetReplicationDestinationInfoRequest { ReplicationSource = source }),
    ];

    [Fact]
    public async Task Every_call_without_a_source_is_invalid_argument()
    {
        foreach (var call in EveryCall(null))
        {
            var failure = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, call);
            Assert.Contains("replication_source", failure.Message);
        }
    }

    [Fact]
    public async Task Every_call_with_an_empty_id_in_its_source_is_invalid_argument()
    {
        foreach (var call in EveryCall(OfVolume("")).Concat(EveryCall(OfGroup(""))))
        {
            await RpcAssert.FailsAsync(StatusCode.InvalidArgument, call);
        }
    }

    [Fact]
    public async Task Unknown_volumes_and_groups_are_not_found()
    {
        var missing = "never-created-" + Guid.NewGuid().ToString("N");

        foreach (var call in EveryCall(OfVolume(missing)).Concat(EveryCall(OfGroup("vg-" + missing))))
        {
            var failure = await RpcAssert.FailsAsync(StatusCode.NotFound, call);
            Assert.Contains(missing, failure.Message);
        }
    }

    [Theory]
    [InlineData(null, "peerAddress")]
    [InlineData("", "peerAddress")]
    [InlineData("no-port", "peerAddress")]
    [InlineData("127.0.0.1:0", "peerAddress")]
    [InlineData("127.0.0.1:70000", "peerAddress")]
    public async Task Enable_needs_a_peer_address_as_host_and_port(string? peer, string named)
    {
        var parameters = new Dictionary<string, string>();
        if (peer is not null)
        {
            parameters["peerAddress"] = peer;
        }

        var failure = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, () => _addons.Enable(EnableRequest(OfVolume("any-volume"), parameters)));

        Assert.Contains(named, failure.Message);
    }

    [Theory]
    [InlineData("mode", "async")]
    [InlineData("journalBudget", "lots")]
    [InlineData("journalBudget", "0")]
    [InlineData("schedulingInterval", "5m")]
    public async Task Enable_refuses_a_parameter_it_does_not_understand(string key, string value)
    {
        var volumeId = await VolumeAsync();

        var failure = await RpcAssert.FailsAsync(StatusCode.InvalidArgument,
            () => _addons.Enable(EnableRequest(OfVolume(volumeId), Parameters(UnreachablePeer(), (key, value)))));

        Assert.Contains(key, failure.Message);
        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => _addons.Info(OfVolume(volumeId)));
    }

    [Fact]
    public async Task Incomplete_tls_secrets_are_invalid_argument_and_unusable_ones_unauthenticated()
    {
        var volumeId = await VolumeAsync();
        var secrets = TlsSecrets();
        var withoutCa = secrets.Where(s => s.Key != "ca.crt").ToDictionary();
        var foreignKey = new Dictionary<string, string>(secrets) { ["tls.key"] = TlsSecrets()["tls.key"] };

        var incomplete = await RpcAssert.FailsAsync(StatusCode.InvalidArgument,
            () => _addons.Enable(EnableRequest(OfVolume(volumeId), Parameters(UnreachablePeer()), withoutCa)));
        var mismatched = await RpcAssert.FailsAsync(StatusCode.Unauthenticated,
            () => _addons.Enable(EnableRequest(OfVolume(volumeId), Parameters(UnreachablePeer()), foreignKey)));

        Assert.Contains("ca.crt", incomplete.Message);
        // A message names the secrets, never quotes them.
        Assert.DoesNotContain("PRIVATE KEY", incomplete.Message + mismatched.Message);
        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => _addons.Info(OfVolume(volumeId)));
    }

    [Fact]
    public async Task Transitions_of_a_source_that_is_not_replicated_are_failed_precondition()
    {
        var source = OfVolume(await VolumeAsync());

        foreach (var call in new Func<Task>[] { () => _addons.Promote(source), () => _addons.Demote(source), () => _addons.Resync(source), () => _addons.Info(source) })
        {
            var failure = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, call);
            Assert.Contains("not enabled", failure.Message);
        }
    }

    [Fact]
    public async Task Disabling_what_is_not_replicated_succeeds()
    {
        var source = OfVolume(await VolumeAsync());

        await _addons.Disable(source);
        await _addons.Disable(source);
    }

    [Fact]
    public async Task A_volume_of_a_group_is_replicated_with_its_group_not_alone()
    {
        var ids = await _fixture.Csi.CreateVolumesAsync(2);
        var group = await _addons.CreateGroupAsync(ids[0], ids[1]);

        var failure = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition,
            () => _addons.Enable(EnableRequest(OfVolume(ids[0]), Parameters(UnreachablePeer()))));

        Assert.Contains(group.VolumeGroupId, failure.Message);
    }

    [Fact]
    public async Task An_empty_group_cannot_be_replicated()
    {
        var group = await _addons.CreateGroupAsync();

        var failure = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition,
            () => _addons.Enable(EnableRequest(OfGroup(group.VolumeGroupId), Parameters(UnreachablePeer()))));

        Assert.Contains("no volumes", failure.Message);
    }

    [Fact]
    public async Task An_enabled_replication_whose_peer_is_unreachable_says_so()
    {
        var source = OfVolume(await VolumeAsync());
        var peer = UnreachablePeer();
        await _addons.Enable(EnableRequest(source, Parameters(peer, ("journalBudget", "64Mi")), TlsSecrets()));

        var info = await EventuallyAsync(() => _addons.Info(source), i => i.Status is InfoStatus.Degraded or InfoStatus.Error);

        // status_message says why: the link to that peer is down.
        Assert.Contains(peer, info.StatusMessage);
        Assert.True(info.LastSyncBytes >= 0);
        // The call was logged with its secrets emptied.
        Assert.Contains(peer, _fixture.Driver.Output.AllText);
        Assert.DoesNotContain("PRIVATE KEY", _fixture.Driver.Output.AllText);
    }

    [Fact]
    public async Task A_volume_group_is_enabled_and_reported_by_its_group_id()
    {
        var ids = await _fixture.Csi.CreateVolumesAsync(2);
        var group = OfGroup((await _addons.CreateGroupAsync(ids[0], ids[1])).VolumeGroupId);

        await _addons.Enable(EnableRequest(group, Parameters(UnreachablePeer()), TlsSecrets()));
        var info = await EventuallyAsync(() => _addons.Info(group), i => i.Status is InfoStatus.Degraded or InfoStatus.Error);

        Assert.NotEqual(InfoStatus.Healthy, info.Status);
        // Its volumes are replicated as the group: not one by one.
        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => _addons.Info(OfVolume(ids[0])));
    }

    [Fact]
    public async Task A_replicated_group_keeps_its_membership_until_replication_is_disabled()
    {
        var ids = await _fixture.Csi.CreateVolumesAsync(3);
        var groupId = (await _addons.CreateGroupAsync(ids[0], ids[1])).VolumeGroupId;
        var alone = OfVolume(ids[2]);
        await _addons.Enable(EnableRequest(OfGroup(groupId), Parameters(UnreachablePeer()), TlsSecrets()));
        await _addons.Enable(EnableRequest(alone, Parameters(UnreachablePeer()), TlsSecrets()));

        // Neither a volume joining (it would not be shipped) nor one leaving.
        foreach (var members in new[] { new[] { ids[0], ids[1], ids[2] }, [ids[0]] })
        {
            var failure = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => _addons.ModifyVolumeGroupMembership(
                new() { VolumeGroupId = groupId, VolumeIds = { members } }));
            Assert.Contains("DisableVolumeReplication", failure.Message);
        }
        await _addons.Disable(OfGroup(groupId));
        // A volume replicated on its own does not move into a group either.
        var moving = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => _addons.ModifyVolumeGroupMembership(
            new() { VolumeGroupId = groupId, VolumeIds = { ids[0], ids[1], ids[2] } }));
        Assert.Contains(ids[2], moving.Message);

        await _addons.Disable(alone);
        await _addons.ModifyVolumeGroupMembership(new() { VolumeGroupId = groupId, VolumeIds = { ids[0], ids[1], ids[2] } });
    }

    [Fact]
    public async Task Enabling_again_with_the_same_parameters_succeeds_and_with_others_already_exists()
    {
        var source = OfVolume(await VolumeAsync());
        var peer = UnreachablePeer();
        var secrets = TlsSecrets();
        await _addons.Enable(EnableRequest(source, Parameters(peer, ("mode", "group")), secrets));

        await _addons.Enable(EnableRequest(source, Parameters(peer, ("mode", "group")), secrets));
        var failure = await RpcAssert.FailsAsync(StatusCode.AlreadyExists,
            () => _addons.Enable(EnableRequest(source, Parameters(peer, ("mode", "per-volume")), secrets)));

        Assert.Contains("per-volume", failure.Message);
    }

    [Fact]
    public async Task Disabling_ends_the_replication_and_repeating_it_succeeds()
    {
        var source = OfVolume(await VolumeAsync());
        await _addons.Enable(EnableRequest(source, Parameters(UnreachablePeer()), TlsSecrets()));
        await _addons.Info(source);

        await _addons.Disable(source);
        await _addons.Disable(source);

        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => _addons.Info(source));
        // Enabled afresh afterwards, with other parameters this time.
        await _addons.Enable(EnableRequest(source, Parameters(UnreachablePeer(), ("mode", "per-volume")), TlsSecrets()));
        await _addons.Disable(source);
    }

    [Fact]
    public async Task Promoting_a_primary_again_succeeds_and_resyncing_a_primary_is_failed_precondition()
    {
        var source = OfVolume(await VolumeAsync());
        await _addons.Enable(EnableRequest(source, Parameters(UnreachablePeer()), TlsSecrets()));

        await _addons.Promote(source);
        await _addons.Promote(source, force: true);
        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => _addons.Resync(source));

        await _addons.Disable(source);
    }

    [Fact]
    public async Task Demote_resync_and_promote_are_idempotent_and_promotion_without_force_needs_the_peer()
    {
        var source = OfVolume(await VolumeAsync());
        var peer = UnreachablePeer();
        await _addons.Enable(EnableRequest(source, Parameters(peer), TlsSecrets()));

        await _addons.Demote(source);
        await _addons.Demote(source);
        var demoted = await _addons.Info(source);
        Assert.Equal(InfoStatus.Degraded, demoted.Status);
        Assert.Contains("demoted", demoted.StatusMessage);

        // Nothing can connect to resync it here: it stays not ready, however often it is asked.
        Assert.False((await _addons.Resync(source)).Ready);
        Assert.False((await _addons.Resync(source)).Ready);

        // The main site cannot be asked whether it is still primary: only force promotes.
        var refused = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => _addons.Promote(source));
        Assert.Contains("force", refused.Message);
        await _addons.Promote(source, force: true);
        await _addons.Promote(source);
        Assert.DoesNotContain("demoted", (await _addons.Info(source)).StatusMessage);

        await _addons.Disable(source);
    }

    [Fact]
    public async Task A_call_while_another_on_the_same_source_runs_is_aborted()
    {
        // A peer that accepts connections and never answers: a promotion without force waits
        // for its role (bounded by the driver's role query timeout) while holding the source.
        using var silentPeer = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silentPeer.Start();
        var peer = $"127.0.0.1:{((System.Net.IPEndPoint)silentPeer.LocalEndpoint).Port}";
        var source = OfVolume(await VolumeAsync());
        await _addons.Enable(EnableRequest(source, Parameters(peer), TlsSecrets()));
        await _addons.Demote(source);
        while (silentPeer.Pending())
        {
            (await silentPeer.AcceptSocketAsync()).Dispose();
        }

        var promotion = _addons.Promote(source);
        using var asked = await silentPeer.AcceptSocketAsync().WaitAsync(TimeSpan.FromSeconds(10));

        foreach (var call in new Func<Task>[]
        {
            () => _addons.Enable(EnableRequest(source, Parameters(peer), TlsSecrets())),
            () => _addons.Demote(source),
            () => _addons.Resync(source),
            () => _addons.Disable(source),
        })
        {
            var failure = await RpcAssert.FailsAsync(StatusCode.Aborted, call);
            Assert.Contains("in progress", failure.Message);
        }
        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => promotion);
        await _addons.Promote(source, force: true);
        await _addons.Disable(source);
    }
}
