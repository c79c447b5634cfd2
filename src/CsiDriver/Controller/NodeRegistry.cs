using CsiDriver.NodeLink;
using CsiDriver.Engine;
using CsiDriver.Rpc;
using Formation.NodeLink.V1;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Controller;

/// <summary>
/// The nodes that registered with this controller, by owner tag. Nothing is persisted: a
/// restarted controller starts empty and the nodes fill it again within one renewal. A node not
/// renewed within the node timeout is down, and calls for it fail at once instead of waiting on
/// a host that does not answer.
/// </summary>
public sealed partial class NodeRegistry(NodeLinkSettings link, TimeSpan nodeTimeout, TimeProvider clock, ILogger<NodeRegistry> log)
{
    private readonly Dictionary<string, RegisteredNode> _nodes = new(StringComparer.Ordinal);

    public TimeSpan NodeTimeout => nodeTimeout;

    /// <summary>A node renews three times per node timeout, so one lost renewal is not an outage.</summary>
    public TimeSpan RenewInterval => nodeTimeout / 3;

    public ServiceBinding Binding() =>
        new ServiceBinding(NodeLinkProtocol.Registry).Unary<RegisterRequest, RegisterResponse>("Register", (request, _) => Task.FromResult(Register(request)));

    /// <summary>Every node heard from since this controller started, in node-id order.</summary>
    public IReadOnlyList<RegisteredNode> Known
    {
        get
        {
            lock (_nodes)
            {
                return _nodes.Values.OrderBy(n => n.NodeId, StringComparer.Ordinal).ToList();
            }
        }
    }

    public bool IsDown(RegisteredNode node) => node.IsDown(clock.GetUtcNow(), nodeTimeout);

    /// <summary>The node owning ids tagged <paramref name="owner"/>, if it is up; UNAVAILABLE naming it otherwise.</summary>
    public RegisteredNode RequireUp(string owner)
    {
        RegisteredNode? node;
        lock (_nodes)
        {
            node = _nodes.GetValueOrDefault(owner);
        }
        if (node is null)
        {
            throw new RpcException(StatusCode.Unavailable,
                $"node '{owner}' has not registered with this controller: it is down, or the controller restarted and the node has not renewed yet (every {RenewInterval.TotalSeconds:0.#} s)");
        }
        RequireUp(node);
        return node;
    }

    /// <summary>UNAVAILABLE naming <paramref name="node"/> when its registration lapsed.</summary>
    public void RequireUp(RegisteredNode node)
    {
        if (IsDown(node))
        {
            throw new RpcException(StatusCode.Unavailable, DownReason(node));
        }
    }

    /// <summary>Completes once <paramref name="node"/>'s registration lapses (checked a few
    /// times per renewal interval); cancelled with <paramref name="cancellationToken"/>.</summary>
    public async Task WhenDownAsync(RegisteredNode node, CancellationToken cancellationToken)
    {
        while (!IsDown(node))
        {
            await Task.Delay(RenewInterval / 4, clock, cancellationToken).ConfigureAwait(false);
        }
    }

    public string DownReason(RegisteredNode node) =>
        $"node '{node.NodeId}' is down: not heard from for {(clock.GetUtcNow() - node.Current.HeardAt).TotalSeconds:0} s (node timeout {nodeTimeout.TotalSeconds:0.#} s)";

    /// <summary>Takes a registration or renewal, checked first; answers when to renew.</summary>
    internal RegisterResponse Register(RegisterRequest request)
    {
        NodeLinkProtocol.CheckVersion(request.ProtocolVersion);
        if (request.NodeId.Length == 0)
        {
            throw new RpcException(StatusCode.InvalidArgument, "node_id is required");
        }
        if (request.Owner != OwnedIds.OwnerTagOf(request.NodeId))
        {
            throw new RpcException(StatusCode.InvalidArgument,
                $"owner '{request.Owner}' is not the owner tag of node '{request.NodeId}' ('{OwnedIds.OwnerTagOf(request.NodeId)}')");
        }
        HostPort address;
        try
        {
            address = HostPort.Parse(request.NodeLinkAddress, "node_link_address");
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw new RpcException(StatusCode.InvalidArgument, e.Message);
        }
        var registration = RegisteredNode.Registration.From(request, address, clock.GetUtcNow());
        lock (_nodes)
        {
            if (_nodes.TryGetValue(request.Owner, out var node))
            {
                var wasDown = IsDown(node);
                if (node.Renew(registration) is { } change)
                {
                    LogChanged(request.NodeId, change);
                }
                else if (wasDown)
                {
                    LogBack(request.NodeId);
                }
            }
            else
            {
                _nodes[request.Owner] = new RegisteredNode(registration, link.Dial);
                LogRegistered(request.NodeId, address.ToString(), request.AvailableBytes);
            }
        }
        return new RegisterResponse
        {
            ProtocolVersion = NodeLinkProtocol.CurrentVersion,
            RenewAfterMs = (long)RenewInterval.TotalMilliseconds,
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "node {NodeId} registered, reachable at {Address}, {AvailableBytes} bytes free")]
    private partial void LogRegistered(string nodeId, string address, long availableBytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "node {NodeId} {Change}")]
    private partial void LogChanged(string nodeId, string change);

    [LoggerMessage(Level = LogLevel.Information, Message = "node {NodeId} is back after its registration lapsed")]
    private partial void LogBack(string nodeId);
}
