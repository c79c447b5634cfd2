using CsiAddons.Identity;
using CsiAddons.Replication;
using CsiAddons.VolumeGroup;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using ReplicationType = CsiAddons.Identity.Capability.Types.VolumeReplication.Types.Type;
using ServiceType = CsiAddons.Identity.Capability.Types.Service.Types.Type;
using VolumeGroupType = CsiAddons.Identity.Capability.Types.VolumeGroup.Types.Type;

namespace CsiDriver.ConformanceTests;

/// <summary>A driver serving csi-addons on its own socket, under a non-default name.</summary>
public sealed class CsiAddonsDriverFixture : DriverFixture
{
    public const string DriverName = "orders.formation.example";

    protected override DriverSettings Settings => new() { DriverName = DriverName, CsiAddons = true };
}

/// <summary>csi-addons identity.Identity on --csiaddons-endpoint (csi-addons spec, identity/README.md),
/// and the replication and volume-group services it advertises answering with the spec's results.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class CsiAddonsIdentityTests : IClassFixture<CsiAddonsDriverFixture>, IDisposable
{
    private readonly CsiAddonsDriverFixture _fixture;
    private readonly CsiAddonsClient _addons;

    public CsiAddonsIdentityTests(CsiAddonsDriverFixture fixture)
    {
        _fixture = fixture;
        _addons = new CsiAddonsClient(fixture.CsiAddonsSocketPath);
    }

    public void Dispose() => _addons.Dispose();

    [Fact]
    public async Task Identity_names_the_csi_driver()
    {
        // csi-addons: "The CSI-driver needs to provide its driver-name so that the CSI-Addons CO
        // plugin can invoke RPCs for volumes that use this driver."
        var identity = await _addons.GetIdentity();

        Assert.Equal(CsiAddonsDriverFixture.DriverName, identity.Name);
        Assert.Equal((await _fixture.Csi.GetPluginInfo()).Name, identity.Name);
        Assert.False(string.IsNullOrWhiteSpace(identity.VendorVersion), "vendor_version is REQUIRED");
    }

    [Fact]
    public async Task Probe_reports_ready()
    {
        // The fixture waited for the driver to start serving; by then it says ready outright.
        Assert.True((await _addons.Probe()).Ready);
    }

    [Fact]
    public async Task Capabilities_are_well_formed_and_operations_name_their_service()
    {
        var capabilities = (await _addons.GetCapabilities()).Capabilities;

        Assert.DoesNotContain(capabilities, c => c.TypeCase == Capability.TypeOneofCase.None);
        // Replication and volume groups act on the storage system: the CO plugin sends them
        // where CONTROLLER_SERVICE is announced.
        Assert.Contains(capabilities, c => c.TypeCase != Capability.TypeOneofCase.Service);
        Assert.Contains(capabilities, c => c.Service is { Type: ServiceType.ControllerService });
    }

    [Fact]
    public async Task Replication_is_advertised_and_answers_for_a_volume_it_does_not_know()
    {
        Assert.Contains((await _addons.GetCapabilities()).Capabilities, c => c.VolumeReplication is { Type: ReplicationType.VolumeReplication });

        // csi-addons replication/README.md: GetVolumeReplicationInfo — "Replication Source does
        // not exist or details not found: 5 NOT_FOUND".
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => _addons.Call<GetVolumeReplicationInfoRequest, GetVolumeReplicationInfoResponse>(
            ReplicationReflection.Descriptor, "Controller", "GetVolumeReplicationInfo",
            new GetVolumeReplicationInfoRequest
            {
                ReplicationSource = new ReplicationSource { Volume = new ReplicationSource.Types.VolumeSource { VolumeId = "never-created-" + Guid.NewGuid().ToString("N") } },
            }));
    }

    [Fact]
    public async Task Volume_groups_are_advertised_and_listed()
    {
        Assert.Contains((await _addons.GetCapabilities()).Capabilities, c => c.VolumeGroup is { Type: VolumeGroupType.ListVolumeGroups });

        // This class's driver has made no group yet.
        var listed = await _addons.Call<ListVolumeGroupsRequest, ListVolumeGroupsResponse>(
            VolumegroupReflection.Descriptor, "Controller", "ListVolumeGroups", new ListVolumeGroupsRequest());

        Assert.Empty(listed.Entries);
        Assert.Equal("", listed.NextToken);
    }
}
