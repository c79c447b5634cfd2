using Csi.V1;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Rpc;

namespace CsiDriver.ConformanceTests;

/// <summary>CreateVolume's accessibility_requirements: volumes live on the driver's own node,
/// reported as one topology segment.</summary>
[Trait(SplitDeployment.Trait, SplitDeployment.Runs)]
public sealed class CreateVolumeTopologyTests(DriverFixture fixture) : IClassFixture<DriverFixture>
{
    private static readonly Topology ElsewhereTopology = Volumes.NodeTopology("some-other-node");

    private CsiClient Csi => fixture.Csi;

    private Topology Here => Volumes.NodeTopology(fixture.NodeId);

    private static CreateVolumeRequest WithRequirement(string purpose, TopologyRequirement requirement)
    {
        var request = Volumes.Request(Volumes.UniqueName(purpose));
        request.AccessibilityRequirements = requirement;
        return request;
    }

    [Fact]
    public async Task A_requisite_that_includes_this_node_is_satisfied_here()
    {
        var request = WithRequirement("requisite-here", new TopologyRequirement { Requisite = { ElsewhereTopology, Here } });

        var volume = (await Csi.CreateVolume(request)).Volume;

        Assert.Equal([Here], volume.AccessibleTopology);
    }

    [Fact]
    public async Task A_requisite_without_this_node_is_resource_exhausted()
    {
        // spec: CreateVolume Errors — "Unable to provision in accessible_topology: 8 RESOURCE_EXHAUSTED".
        var request = WithRequirement("requisite-elsewhere", new TopologyRequirement { Requisite = { ElsewhereTopology } });

        await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, () => Csi.CreateVolume(request));
    }

    [Fact]
    public async Task A_preference_for_elsewhere_without_requisite_still_provisions_here()
    {
        // spec: TopologyRequirement.preferred — "If the list of requisite topologies is not
        // specified, then the SP MAY choose from the list of all possible topologies."
        var request = WithRequirement("preferred-elsewhere", new TopologyRequirement { Preferred = { ElsewhereTopology } });

        var volume = (await Csi.CreateVolume(request)).Volume;

        Assert.Equal([Here], volume.AccessibleTopology);
    }

    [Fact]
    public async Task Requisite_and_preferred_here_is_satisfied_here()
    {
        var request = WithRequirement("both-here", new TopologyRequirement { Requisite = { Here }, Preferred = { Here } });

        var volume = (await Csi.CreateVolume(request)).Volume;

        Assert.Equal([Here], volume.AccessibleTopology);
    }

    [Fact]
    public async Task Topology_keys_share_one_prefix_and_follow_the_key_rules()
    {
        // spec: Topology — keys are "prefix/name", the prefix identical across all keys the SP
        // returns, the name at most 63 characters of alphanumerics, '-', '_' and '.'.
        var volume = await Csi.CreateAsync("topology-keys");

        var keys = volume.AccessibleTopology.SelectMany(t => t.Segments.Keys).ToList();
        Assert.NotEmpty(keys);
        Assert.All(keys, key => Assert.Matches("^([a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$", key));
        Assert.Single(keys.Select(key => key.Contains('/') ? key[..key.IndexOf('/')] : "").Distinct());
    }
}
