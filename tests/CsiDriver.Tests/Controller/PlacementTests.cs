using Csi.V1;
using CsiDriver.Controller;
using CsiDriver.Rpc;

namespace CsiDriver.Tests.Controller;

public sealed class PlacementTests : IDisposable
{
    private const long GiB = 1L << 30;
    private readonly RegistrySetup _setup = new();
    private readonly Placement _placement;

    public PlacementTests()
    {
        _setup.Register("node-a", 10 * GiB);
        _setup.Register("node-b", 30 * GiB);
        _setup.Register("node-c", 20 * GiB);
        _placement = new Placement(_setup.Registry);
    }

    public void Dispose() => _setup.Dispose();

    private static Topology On(string node) => new() { Segments = { ["topology.formation.csi.dev/node"] = node } };

    private string[] CandidatesOf(TopologyRequirement? requirements) => _placement.Candidates(requirements).Select(n => n.NodeId).ToArray();

    [Fact]
    public void Without_requirements_the_nodes_come_by_free_capacity()
    {
        Assert.Equal(["node-b", "node-c", "node-a"], CandidatesOf(null));
    }

    [Fact]
    public void Preferred_topologies_come_first_in_their_order_then_the_rest_of_requisite_by_free_capacity()
    {
        var requirements = new TopologyRequirement
        {
            Requisite = { On("node-a"), On("node-b"), On("node-c") },
            Preferred = { On("node-a"), On("node-c") },
        };

        Assert.Equal(["node-a", "node-c", "node-b"], CandidatesOf(requirements));
    }

    [Fact]
    public void Requisite_leaves_out_every_other_node()
    {
        Assert.Equal(["node-c", "node-a"], CandidatesOf(new TopologyRequirement { Requisite = { On("node-a"), On("node-c") } }));
        Assert.Empty(CandidatesOf(new TopologyRequirement { Requisite = { On("node-z") } }));
    }

    [Fact]
    public void The_first_candidate_that_is_up_and_has_room_is_chosen()
    {
        var candidates = _placement.Candidates(null);

        Assert.Equal("node-b", _placement.Choose(candidates, 25 * GiB, "a volume").NodeId);
        Assert.Equal("node-c", _placement.Choose(candidates.Skip(1).ToList(), 5 * GiB, "a volume").NodeId);
    }

    [Fact]
    public void When_no_allowed_node_has_room_the_answer_names_each_with_its_room()
    {
        var failure = Assert.Throws<RpcException>(() => _placement.Choose(_placement.Candidates(null), 40 * GiB, "volume 'big'"));

        Assert.Equal(StatusCode.ResourceExhausted, failure.Status);
        Assert.Contains("volume 'big'", failure.Message);
        Assert.Contains($"node-b has {30 * GiB}", failure.Message);
    }

    [Fact]
    public void When_only_a_node_that_is_down_had_room_the_answer_is_unavailable_naming_it()
    {
        _setup.Clock.Advance(RegistrySetup.NodeTimeout + TimeSpan.FromSeconds(1));
        _setup.Register("node-a", 10 * GiB);
        _setup.Register("node-c", 20 * GiB);

        var failure = Assert.Throws<RpcException>(() => _placement.Choose(_placement.Candidates(null), 25 * GiB, "a volume"));

        Assert.Equal(StatusCode.Unavailable, failure.Status);
        Assert.Contains("node 'node-b' is down", failure.Message);
    }
}
