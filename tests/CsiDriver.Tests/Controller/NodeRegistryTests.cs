using CsiDriver.NodeLink;
using CsiDriver.Rpc;

namespace CsiDriver.Tests.Controller;

public sealed class NodeRegistryTests : IDisposable
{
    private readonly RegistrySetup _setup = new();

    public void Dispose() => _setup.Dispose();

    [Fact]
    public void A_registered_node_is_routed_to_by_its_owner_tag_and_told_when_to_renew()
    {
        var response = _setup.Registry.Register(RegistrySetup.Request("node-a"));

        Assert.Equal("node-a", _setup.Registry.RequireUp("node-a").NodeId);
        Assert.Equal((long)(RegistrySetup.NodeTimeout / 3).TotalMilliseconds, response.RenewAfterMs);
        Assert.Equal(NodeLinkProtocol.CurrentVersion, response.ProtocolVersion);
    }

    [Fact]
    public void A_node_never_heard_from_is_unavailable_by_name()
    {
        var failure = Assert.Throws<RpcException>(() => _setup.Registry.RequireUp("node-z"));

        Assert.Equal(StatusCode.Unavailable, failure.Status);
        Assert.Contains("node 'node-z' has not registered", failure.Message);
    }

    [Fact]
    public void A_node_not_renewed_within_the_timeout_is_down_until_it_renews()
    {
        var node = _setup.Register("node-a");

        _setup.Clock.Advance(RegistrySetup.NodeTimeout + TimeSpan.FromSeconds(1));
        var failure = Assert.Throws<RpcException>(() => _setup.Registry.RequireUp("node-a"));
        _setup.Register("node-a");

        Assert.Equal(StatusCode.Unavailable, failure.Status);
        Assert.Contains("node 'node-a' is down", failure.Message);
        Assert.False(_setup.Registry.IsDown(node));
        Assert.Same(node, _setup.Registry.RequireUp("node-a"));
    }

    [Fact]
    public void A_renewal_updates_capacity_and_a_move_gets_a_new_client()
    {
        var node = _setup.Register("node-a", 5L << 30);
        var client = node.Client;

        _setup.Registry.Register(RegistrySetup.Request("node-a", 3L << 30));
        Assert.Same(client, node.Client);
        _setup.Registry.Register(RegistrySetup.Request("node-a", 3L << 30, address: "10.0.0.9:7601"));

        Assert.Equal(3L << 30, node.Current.AvailableBytes);
        Assert.NotSame(client, node.Client);
        Assert.Equal("10.0.0.9:7601", node.Current.NodeLinkAddress.ToString());
    }

    [Fact]
    public void A_registration_is_checked()
    {
        var wrongOwner = RegistrySetup.Request("node-a");
        wrongOwner.Owner = "node-b";
        var newer = RegistrySetup.Request("node-a");
        newer.ProtocolVersion = NodeLinkProtocol.CurrentVersion + 1;
        var noAddress = RegistrySetup.Request("node-a", address: "nowhere");

        Assert.Equal(StatusCode.InvalidArgument, Assert.Throws<RpcException>(() => _setup.Registry.Register(wrongOwner)).Status);
        Assert.Equal(StatusCode.FailedPrecondition, Assert.Throws<RpcException>(() => _setup.Registry.Register(newer)).Status);
        Assert.Equal(StatusCode.InvalidArgument, Assert.Throws<RpcException>(() => _setup.Registry.Register(noAddress)).Status);
        Assert.Empty(_setup.Registry.Known);
    }
}
