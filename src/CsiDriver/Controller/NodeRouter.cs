using CsiDriver.NodeLink;
using CsiDriver.Engine;
using CsiDriver.Rpc;
using Formation.NodeLink.V1;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace CsiDriver.Controller;

/// <summary>
/// Finds the node that owns an object and forwards a call to it, unchanged, over the node link.
/// An id that carries its owner (<see cref="OwnedIds"/>) is routed without asking anyone, so a
/// call for a node that is down fails at once with UNAVAILABLE naming it, and never waits on
/// another node. An id without an owner (made by a standalone node, or not ours at all) is
/// looked up on every node; when no node has it the call goes to any node, whose answer is the
/// one the spec wants for an object that does not exist (NOT_FOUND, or success for a delete).
/// </summary>
public sealed class NodeRouter(NodeRegistry registry, TimeProvider clock)
{
    /// <summary>How long a Find may take on one node: a lookup must not stall behind a dying host.</summary>
    private static readonly TimeSpan FindTimeout = TimeSpan.FromSeconds(5);

    public NodeRegistry Registry => registry;

    /// <summary>The node holding object <paramref name="id"/>; null when no node has it (or the
    /// id is empty, which the node the call then goes to refuses as INVALID_ARGUMENT).</summary>
    public async Task<RegisteredNode?> LocateAsync(ObjectKind kind, string id, CallContext context)
    {
        if (id.Length == 0)
        {
            return null;
        }
        if (OwnedIds.OwnerOf(id) is { } owner)
        {
            return registry.RequireUp(owner);
        }
        return (await FindAsync(kind, id, null, registry.Known, context).ConfigureAwait(false))?.Node;
    }

    /// <summary>A handler that forwards its call to the node owning the object a field names; an
    /// empty field is INVALID_ARGUMENT here, since nothing could be routed by it.</summary>
    public UnaryHandler<TRequest, TResponse> ToOwner<TRequest, TResponse>(ObjectKind kind, Func<TRequest, string> id, string field)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new() =>
        (request, context) =>
        {
            Csi.RequestFields.Require(id(request), field);
            return ForwardToOwnerAsync<TRequest, TResponse>(kind, id(request), request, context);
        };

    /// <summary>Forwards <paramref name="request"/> to the node owning <paramref name="id"/> (or any node when none does).</summary>
    public async Task<TResponse> ForwardToOwnerAsync<TRequest, TResponse>(ObjectKind kind, string id, TRequest request, CallContext context)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new()
    {
        var node = await LocateAsync(kind, id, context).ConfigureAwait(false) ?? AnyUp();
        return await ForwardAsync<TRequest, TResponse>(node, request, context).ConfigureAwait(false);
    }

    /// <summary>
    /// The one node holding every object of <paramref name="ids"/>: a consistency group, and so
    /// everything cut or replicated together, lives in one node's engine. Objects on several
    /// nodes are refused with <paramref name="spreadStatus"/>, naming each node and what it
    /// holds. When some id is on no node, the call goes to the node of the others (or any node),
    /// whose answer is NOT_FOUND naming it.
    /// </summary>
    public async Task<RegisteredNode> OneNodeAsync(ObjectKind kind, IReadOnlyCollection<string> ids, StatusCode spreadStatus, string what, CallContext context)
    {
        var located = await Task.WhenAll(ids.Select(async id => (Id: id, Node: await LocateAsync(kind, id, context).ConfigureAwait(false)))).ConfigureAwait(false);
        var byNode = located.Where(l => l.Node is not null).GroupBy(l => l.Node!).ToList();
        if (byNode.Count > 1)
        {
            throw new RpcException(spreadStatus,
                $"{what} spans nodes: {string.Join("; ", byNode.Select(g => $"{g.Key} holds {string.Join(", ", g.Select(l => l.Id))}"))}; "
                + "a consistency group lives in one node's engine, so everything snapshotted, grouped or replicated together must be on one node");
        }
        return byNode.FirstOrDefault()?.Key ?? AnyUp();
    }

    /// <summary>
    /// The first of <paramref name="among"/> that holds the object (by id or by name). When none
    /// of the nodes that answered has it but some of them are down, the object may be on one of
    /// those: UNAVAILABLE naming them, rather than a wrong "does not exist" or a duplicate.
    /// </summary>
    public async Task<(RegisteredNode Node, string Id)?> FindAsync(ObjectKind kind, string? id, string? name, IReadOnlyCollection<RegisteredNode> among, CallContext context)
    {
        var request = new FindRequest { ProtocolVersion = NodeLinkProtocol.CurrentVersion, Kind = kind, Id = id ?? "", Name = name ?? "" };
        var up = among.Where(n => !registry.IsDown(n)).ToList();
        var down = among.Except(up).Select(registry.DownReason).ToList();
        var answers = await Task.WhenAll(up.Select(async node =>
        {
            try
            {
                var response = await node.Client.UnaryAsync<FindRequest, FindResponse>(NodeLinkProtocol.FindMethod, request, Options(context, FindTimeout)).ConfigureAwait(false);
                NodeLinkProtocol.CheckVersion(response.ProtocolVersion);
                return (Node: node, Response: response, Failure: (string?)null);
            }
            catch (RpcException e) when (!context.CancellationToken.IsCancellationRequested)
            {
                return (Node: node, Response: (FindResponse?)null, Failure: $"node '{node.NodeId}' did not answer: {e.Status}: {e.Message}");
            }
        })).ConfigureAwait(false);
        if (answers.FirstOrDefault(a => a.Response is { Found: true }) is { Response: { } found } hit)
        {
            return (hit.Node, found.Id);
        }
        var unknown = down.Concat(answers.Select(a => a.Failure).OfType<string>()).ToList();
        if (unknown.Count > 0)
        {
            var what = name is null ? $"{Describe(kind)} '{id}'" : $"{Describe(kind)} named '{name}'";
            throw new RpcException(StatusCode.Unavailable, $"cannot tell whether {what} exists: {string.Join("; ", unknown)}");
        }
        return null;
    }

    /// <summary>
    /// Sends the call the controller is serving to <paramref name="node"/> and returns its
    /// answer; the node's status passes through, and an UNAVAILABLE one names the node.
    /// </summary>
    public Task<TResponse> ForwardAsync<TRequest, TResponse>(RegisteredNode node, TRequest request, CallContext context)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new() =>
        WhileUpAsync(node, context, options => node.Client.UnaryAsync<TRequest, TResponse>(context.Method, request, options));

    /// <summary>
    /// Relays a server-streaming call to <paramref name="node"/>: each message the node sends
    /// goes on to the caller as it arrives, so a long stream is never held whole here; the
    /// node's status ends the caller's stream as it ended the node's.
    /// </summary>
    public Task RelayStreamAsync<TRequest, TResponse>(RegisteredNode node, MethodDescriptor method, TRequest request, IResponseStream<TResponse> responses, CallContext context)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new() =>
        WhileUpAsync(node, context, async options =>
        {
            await foreach (var message in node.Client.ServerStreamingAsync<TRequest, TResponse>(method, request, options).ConfigureAwait(false))
            {
                await responses.WriteAsync(message, context.CancellationToken).ConfigureAwait(false);
            }
            return true;
        });

    /// <summary>
    /// Runs a call to <paramref name="node"/> with the caller's deadline and cancellation. A
    /// call in flight when the node's registration lapses is abandoned with UNAVAILABLE naming
    /// it: a host that vanished mid-call would otherwise hold the caller until its deadline.
    /// </summary>
    private async Task<T> WhileUpAsync<T>(RegisteredNode node, CallContext context, Func<CallOptions, Task<T>> send)
    {
        registry.RequireUp(node);
        using var call = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        var answer = send(new CallOptions { Timeout = Options(context, null).Timeout, CancellationToken = call.Token });
        var lapsed = registry.WhenDownAsync(node, call.Token);
        if (await Task.WhenAny(answer, lapsed).ConfigureAwait(false) == lapsed && !lapsed.IsCanceled)
        {
            await call.CancelAsync().ConfigureAwait(false);
            await answer.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            throw new RpcException(StatusCode.Unavailable, $"{registry.DownReason(node)}; the call it was serving was abandoned");
        }
        try
        {
            return await answer.ConfigureAwait(false);
        }
        catch (RpcException e) when (e.Status == StatusCode.Unavailable)
        {
            throw new RpcException(StatusCode.Unavailable, $"node '{node.NodeId}' at {node.Current.NodeLinkAddress}: {e.Message}");
        }
        finally
        {
            await call.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The same call on every node, for the List calls: all must be up, or the list
    /// would silently miss a node's objects (UNAVAILABLE naming the nodes that are down).</summary>
    public async Task<IReadOnlyList<TResponse>> ForwardToEveryNodeAsync<TRequest, TResponse>(TRequest request, CallContext context)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>, new()
    {
        var nodes = registry.Known;
        if (nodes.Where(registry.IsDown).Select(registry.DownReason).ToList() is { Count: > 0 } down)
        {
            throw new RpcException(StatusCode.Unavailable, $"cannot list every node: {string.Join("; ", down)}");
        }
        return await Task.WhenAll(nodes.Select(node => ForwardAsync<TRequest, TResponse>(node, request, context))).ConfigureAwait(false);
    }

    /// <summary>
    /// A List call over the whole cluster: every node's entries (asked for all at once) in one
    /// id order, paged here with the tokens a node gives, so a token from one page fits the next
    /// whichever node its entries came from.
    /// </summary>
    public async Task<(List<TEntry> Page, string NextToken)> PageAcrossNodesAsync<TRequest, TResponse, TEntry>(
        Func<TResponse, IEnumerable<TEntry>> entries, Func<TEntry, string> id, int maxEntries, string startingToken, CallContext context)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage<TResponse>, new()
    {
        var all = await ForwardToEveryNodeAsync<TRequest, TResponse>(new TRequest(), context).ConfigureAwait(false);
        var call = context.Method[(context.Method.LastIndexOf('/') + 1)..];
        return Csi.Pages.Take(all.SelectMany(entries).OrderBy(id, StringComparer.Ordinal), id, maxEntries, startingToken, call);
    }

    /// <summary>Some node that is up, for a call about an object no node has.</summary>
    public RegisteredNode AnyUp() =>
        registry.Known.FirstOrDefault(n => !registry.IsDown(n))
        ?? throw new RpcException(StatusCode.Unavailable, "no node is registered with this controller (yet): start the node DaemonSet, or wait one renewal after a controller restart");

    /// <summary>The caller's deadline and cancellation carried to the node; a lookup gets its own bound too.</summary>
    private CallOptions Options(CallContext context, TimeSpan? bound)
    {
        TimeSpan? timeout = context.Deadline is { } deadline ? deadline - clock.GetUtcNow().UtcDateTime : null;
        if (bound is { } limit && (timeout is null || timeout > limit))
        {
            timeout = limit;
        }
        return new CallOptions { CancellationToken = context.CancellationToken, Timeout = timeout is { } t && t < TimeSpan.Zero ? TimeSpan.Zero : timeout };
    }

    private static string Describe(ObjectKind kind) => kind switch
    {
        ObjectKind.Volume => "volume",
        ObjectKind.Snapshot => "snapshot",
        ObjectKind.GroupSnapshot => "group snapshot",
        ObjectKind.VolumeGroup => "volume group",
        ObjectKind.ConsistencyGroup => "consistency group",
        ObjectKind.Replication => "replication",
        _ => kind.ToString(),
    };
}
