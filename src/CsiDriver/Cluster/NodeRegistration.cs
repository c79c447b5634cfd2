using CsiDriver.Csi;
using CsiDriver.NodeLink;
using CsiDriver.Rpc;
using Formation.NodeLink.V1;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Cluster;

/// <summary>
/// Keeps this node registered with the cluster controller for as long as it runs: registers at
/// once, then renews as often as the controller asks (its node timeout is three renewals), and
/// after a failure retries every second. A restarted controller thus learns every node within
/// one renewal; a renewal carries the node's current free capacity for placement.
/// </summary>
public sealed partial class NodeRegistration(Driver driver, HostPort controller, NodeLinkSettings link, ILogger log) : IAsyncDisposable
{
    private static readonly TimeSpan Retry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public void Start() => _loop ??= Task.Run(RunAsync);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        using var client = link.Dial(controller);
        var registered = false;
        string? lastFailure = null;
        while (!_stop.IsCancellationRequested)
        {
            TimeSpan wait;
            try
            {
                var response = await client.UnaryAsync<RegisterRequest, RegisterResponse>(
                    NodeLinkProtocol.RegisterMethod, Request(),
                    new CallOptions { Timeout = CallTimeout, CancellationToken = _stop.Token }).ConfigureAwait(false);
                NodeLinkProtocol.CheckVersion(response.ProtocolVersion);
                wait = TimeSpan.FromMilliseconds(Math.Max(100, response.RenewAfterMs));
                if (!registered)
                {
                    LogRegistered(controller.ToString(), link.Advertise.ToString(), wait.TotalSeconds);
                }
                registered = true;
                lastFailure = null;
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is RpcException or OperationCanceledException)
            {
                var reason = e is RpcException rpc ? $"{rpc.Status}: {rpc.Message}" : e.Message;
                // A controller away for an hour is said once per reason, not once a second.
                if (registered || reason != lastFailure)
                {
                    LogRegistrationFailed(controller.ToString(), reason);
                }
                registered = false;
                lastFailure = reason;
                wait = Retry;
            }
            try
            {
                await Task.Delay(wait, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private RegisterRequest Request()
    {
        var available = driver.Budget.Available();
        return new RegisterRequest
        {
            ProtocolVersion = NodeLinkProtocol.CurrentVersion,
            NodeId = driver.Options.NodeId,
            Owner = driver.OwnerTag ?? "",
            Topology = { CsiVolumes.NodeTopology(driver.Options.NodeId).Segments },
            NodeLinkAddress = link.Advertise.ToString(),
            SiteLinkAddress = driver.Options.SiteLinkAdvertise ?? driver.Options.SiteLinkAddress ?? "",
            AvailableBytes = available,
            MaximumVolumeBytes = Math.Min(available, CapacityRules.MaximumBytes),
            Instance = driver.ServerInstance,
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "registered with the controller at {Controller} as reachable at {Advertise}; renewing every {RenewSeconds:0.#} s")]
    private partial void LogRegistered(string controller, string advertise, double renewSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cannot register with the controller at {Controller}, retrying every second: {Reason}")]
    private partial void LogRegistrationFailed(string controller, string reason);
}
