using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using ServiceType = Csi.V1.PluginCapability.Types.Service.Types.Type;
using ExpansionType = Csi.V1.PluginCapability.Types.VolumeExpansion.Types.Type;

namespace CsiDriver.ConformanceTests;

/// <summary>Identity service: GetPluginInfo, GetPluginCapabilities, Probe.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class IdentityTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    // spec: GetPluginInfoResponse.name — domain name notation, at most 63 characters,
    // alphanumeric at both ends with dashes, dots and alphanumerics between.
    private const string PluginNamePattern = "^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,61}[a-zA-Z0-9])?$";

    [Fact]
    public async Task Plugin_info_names_the_driver_and_its_version()
    {
        var info = await fixture.Csi.GetPluginInfo();

        Assert.Equal("formation.csi.dev", info.Name);
        Assert.Matches(PluginNamePattern, info.Name);
        Assert.False(string.IsNullOrWhiteSpace(info.VendorVersion), "vendor_version is REQUIRED");
    }

    [Fact]
    public async Task Plugin_info_is_the_same_on_every_call()
    {
        var first = await fixture.Csi.GetPluginInfo();
        var second = await fixture.Csi.GetPluginInfo();

        Assert.Equal(first, second);
    }

    [Fact]
    public async Task Plugin_capabilities_announce_controller_topology_and_online_expansion()
    {
        var capabilities = (await fixture.Csi.GetPluginCapabilities()).Capabilities;

        var services = capabilities.Where(c => c.Service is not null).Select(c => c.Service.Type).ToList();
        var expansions = capabilities.Where(c => c.VolumeExpansion is not null).Select(c => c.VolumeExpansion.Type).ToList();
        Assert.Contains(ServiceType.ControllerService, services);
        Assert.Contains(ServiceType.VolumeAccessibilityConstraints, services);
        Assert.Equal([ExpansionType.Online], expansions);
        Assert.DoesNotContain(capabilities, c => c.TypeCase == PluginCapability.TypeOneofCase.None);
    }

    [Fact]
    public async Task Online_expansion_comes_with_the_expand_volume_controller_capability()
    {
        // spec: VolumeExpansion.ONLINE — "it MUST implement either the EXPAND_VOLUME controller
        // capability or the EXPAND_VOLUME node capability or both"; this driver grows volumes
        // in its controller.
        Assert.True(await fixture.Csi.HasControllerCapabilityAsync(ControllerServiceCapability.Types.RPC.Types.Type.ExpandVolume));
    }

    [Fact]
    public async Task Probe_reports_ready_once_started()
    {
        var probe = await fixture.Csi.Probe();

        Assert.True(probe.Ready is null or true, "a started driver must not report ready=false");
    }

    [Fact]
    public async Task Identity_answers_concurrent_callers()
    {
        var calls = Enumerable.Range(0, 16).Select(_ => fixture.Csi.GetPluginInfo()).ToArray();
        var answers = await Task.WhenAll(calls);

        Assert.All(answers, answer => Assert.Equal("formation.csi.dev", answer.Name));
    }
}
