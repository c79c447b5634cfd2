using CsiAddons.Identity;
using CsiAddons.Replication;
using CsiAddons.VolumeGroup;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;
using ServiceType = CsiAddons.Identity.Capability.Types.Service.Types.Type;

namespace CsiDriver.ConformanceTests;

/// <summary>A driver serving csi-addons on its own socket, under a non-default name.</summary>
public sealed class CsiAddonsDriverFixture : DriverFixture
{
    public const string DriverName = "orders.formation.example";

    protected override DriverSettings Settings => new() { DriverName = DriverName, CsiAddons = true };
}

/// <summary>csi-addons identity.Identity on --csiaddons-endpoint (csi-addons spec, identity/README.md),
/// and the replication and volume-group services answering exactly as advertised.</summary>
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
        Assert.True((await _addons.Probe()).Ready is null or true);
    }

    [Fact]
    public async Task Capabilities_are_well_formed_and_operations_name_their_service()
    {
        var capabilities = (await _addons.GetCapabilities()).Capabilities;

        Assert.DoesNotContain(capabilities, c => c.TypeCase == Capability.TypeOneofCase.None);
        var operations = capabilities.Where(c => c.TypeCase != Capability.TypeOneofCase.Service).ToList();
        if (operations.Count > 0)
        {
            // Replication and volume groups act on the storage system: the CO plugin sends them
            // where CONTROLLER_SERVICE is announced.
            Assert.Contains(capabilities, c => c.Service is { Type: ServiceType.ControllerService });
        }
    }

    [Fact]
    public async Task Replication_answers_exactly_when_advertised()
    {
        var advertised = (await _addons.GetCapabilities()).Capabilities.Any(c => c.VolumeReplication is not null);
        var call = () => _addons.Call<GetVolumeReplicationInfoRequest, GetVolumeReplicationInfoResponse>(
            ReplicationReflection.Descriptor, "Controller", "GetVolumeReplicationInfo",
            new GetVolumeReplicationInfoRequest
            {
                ReplicationSource = new ReplicationSource { Volume = new ReplicationSource.Types.VolumeSource { VolumeId = "never-created-" + Guid.NewGuid().ToString("N") } },
            });

        await AnswersExactlyWhenAdvertisedAsync(advertised, call);
    }

    [Fact]
    public async Task Volume_groups_answer_exactly_when_advertised()
    {
        var advertised = (await _addons.GetCapabilities()).Capabilities.Any(c => c.VolumeGroup is not null);
        var call = () => _addons.Call<ListVolumeGroupsRequest, ListVolumeGroupsResponse>(
            VolumegroupReflection.Descriptor, "Controller", "ListVolumeGroups", new ListVolumeGroupsRequest());

        await AnswersExactlyWhenAdvertisedAsync(advertised, call);
    }

    private static async Task AnswersExactlyWhenAdvertisedAsync(bool advertised, Func<Task> call)
    {
        if (!advertised)
        {
            await RpcAssert.FailsAsync(StatusCode.Unimplemented, call);
            return;
        }
        try
        {
            await call();
        }
        catch (RpcException e)
        {
            Assert.NotEqual(StatusCode.Unimplemented, e.Status);
        }
    }
}
