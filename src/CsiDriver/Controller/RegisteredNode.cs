using CsiDriver.Rpc;
using Formation.NodeLink.V1;

namespace CsiDriver.Controller;

/// <summary>
/// What the controller knows of one node: its latest registration, when it was last heard,
/// and the node-link client that reaches it. A registration is replaced whole on each renewal,
/// so readers always see one consistent registration.
/// </summary>
public sealed class RegisteredNode
{
    private readonly Func<HostPort, GrpcClient> _dial;
    private readonly object _lock = new();
    private Registration _current;
    private GrpcClient _client;

    internal RegisteredNode(Registration registration, Func<HostPort, GrpcClient> dial)
    {
        _dial = dial;
        _current = registration;
        _client = dial(registration.NodeLinkAddress);
    }

    /// <summary>One registration as the node sent it, and when it arrived.</summary>
    public sealed record Registration(
        string NodeId,
        string Owner,
        IReadOnlyDictionary<string, string> Topology,
        HostPort NodeLinkAddress,
        string? SiteLinkAddress,
        long AvailableBytes,
        long MaximumVolumeBytes,
        string Instance,
        DateTimeOffset HeardAt)
    {
        public static Registration From(RegisterRequest request, HostPort nodeLinkAddress, DateTimeOffset heardAt) => new(
            request.NodeId,
            request.Owner,
            new Dictionary<string, string>(request.Topology),
            nodeLinkAddress,
            request.SiteLinkAddress.Length == 0 ? null : request.SiteLinkAddress,
            request.AvailableBytes,
            request.MaximumVolumeBytes,
            request.Instance,
            heardAt);
    }

    public Registration Current => Volatile.Read(ref _current);

    public string NodeId => Current.NodeId;

    /// <summary>The client for the node's current address (a node that moved gets a new one).</summary>
    public GrpcClient Client
    {
        get
        {
            lock (_lock)
            {
                return _client;
            }
        }
    }

    /// <summary>Takes a renewal; returns what changed, for the log (null: only the time).</summary>
    internal string? Renew(Registration registration)
    {
        lock (_lock)
        {
            var previous = _current;
            _current = registration;
            if (registration.NodeLinkAddress != previous.NodeLinkAddress)
            {
                // The old client is left to the calls still using it; a move is rare.
                _client = _dial(registration.NodeLinkAddress);
                return $"moved from {previous.NodeLinkAddress} to {registration.NodeLinkAddress}";
            }
            return registration.Instance != previous.Instance ? "restarted" : null;
        }
    }

    /// <summary>Whether the registration lapsed: not renewed within <paramref name="timeout"/>.</summary>
    public bool IsDown(DateTimeOffset now, TimeSpan timeout) => now - Current.HeardAt > timeout;

    /// <summary>Whether a topology segment's every key has the same value at this node.</summary>
    public bool Matches(IReadOnlyDictionary<string, string> segments) =>
        segments.All(s => Current.Topology.TryGetValue(s.Key, out var value) && value == s.Value);

    public override string ToString() => $"node '{NodeId}'";
}
