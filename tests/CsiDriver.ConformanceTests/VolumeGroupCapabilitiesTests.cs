using CsiAddons.Identity;
using CsiDriver.ConformanceTests.Infrastructure;
using ServiceType = CsiAddons.Identity.Capability.Types.Service.Types.Type;
using VolumeGroupType = CsiAddons.Identity.Capability.Types.VolumeGroup.Types.Type;

namespace CsiDriver.ConformanceTests;

/// <summary>What csi-addons GetCapabilities says of volume groups: the controller service and
/// exactly the volume-group behaviours the driver implements.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class VolumeGroupCapabilitiesTests : IClassFixture<CsiAddonsDriverFixture>, IDisposable
{
    private readonly CsiAddonsClient _addons;

    public VolumeGroupCapabilitiesTests(CsiAddonsDriverFixture fixture) =>
        _addons = new CsiAddonsClient(fixture.CsiAddonsSocketPath);

    public void Dispose() => _addons.Dispose();

    [Fact]
    public async Task Advertises_the_controller_service_and_the_volume_group_behaviours()
    {
        var capabilities = (await _addons.GetCapabilities()).Capabilities;

        Assert.Contains(capabilities, c => c.Service is { Type: ServiceType.ControllerService });
        Assert.Equal(
            [
                VolumeGroupType.VolumeGroup,
                VolumeGroupType.LimitVolumeToOneVolumeGroup,
                VolumeGroupType.DoNotAllowVgToDeleteVolumes,
                VolumeGroupType.ModifyVolumeGroup,
                VolumeGroupType.GetVolumeGroup,
                VolumeGroupType.ListVolumeGroups,
            ],
            capabilities.Where(c => c.VolumeGroup is not null).Select(c => c.VolumeGroup.Type).Order().ToList());
    }
}
