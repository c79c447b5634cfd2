using CsiDriver.Engine;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Replication;

/// <summary>
/// Ships one link's journal to the receiver for as long as it runs: opens a stream, lets the
/// session resync or stream, and when the link breaks reconnects with exponential backoff
/// (capped), resuming from the position the receiver reports; between attempts it keeps the
/// backlog's plan (<see cref="BacklogPlan"/>) up to date. The shipper only reads the journal,
/// so writers never wait for it.
/// </summary>
public sealed partial class JournalShipper : IAsyncDisposable
{
    private readonly StorageEngine _engine;
    private readonly ShipperSettings _settings;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private SiteLinkClient? _receiver;

    /// <summary>Owner tag of the node the peer last said receives the stream (for the next Locate).</summary>
    private string? _located;

    public JournalShipper(StorageEngine engine, ShipperTarget target, ShipperSettings settings, ILogger log)
    {
        _engine = engine;
        Target = target;
        _settings = settings;
        _log = log;
    }

    public ShipperTarget Target { get; }

    public LinkStatus Status { get; } = new();

    public void Start() => _loop ??= Task.Run(RunAsync);

    /// <summary>Waits until the receiver has applied everything the journal holds now; false on
    /// timeout, or once the link has been down for <paramref name="linkGrace"/> (a peer that
    /// refuses us — it was promoted meanwhile — will never drain, and the demotion must not
    /// outlast its caller's deadline waiting for it).</summary>
    public async Task<bool> DrainAsync(TimeSpan timeout, TimeSpan linkGrace, CancellationToken cancellationToken)
    {
        var last = _engine.GetJournalStatus(Target.Journal).LastSequence;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            while (Status.Snapshot() is var link && (link.AppliedSequence < last || link.Resyncing))
            {
                if (!link.Connected && DateTimeOffset.UtcNow - link.DisconnectedSince > linkGrace)
                {
                    return false;
                }
                await Task.Delay(TimeSpan.FromMilliseconds(10), deadline.Token).ConfigureAwait(false);
            }
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

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
        using var peer = new SiteLinkClient(Target.Peer, Target.Tls);
        using var backlog = new BacklogPlan(_engine, Target.Journal, Target.Consumer, Target.VolumeIds.ToHashSet(StringComparer.Ordinal), _settings.CoalesceBacklogBytes);
        var backoff = _settings.InitialBackoff;
        var attempt = 0;
        string? lastReason = null;
        while (!_stop.IsCancellationRequested)
        {
            var session = new ShipperSession(_engine, Target, _settings, Status, _log, backlog);
            try
            {
                attempt++;
                await session.RunAsync(await LocateAsync(peer).ConfigureAwait(false), _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                break;
            }
            catch (ShipperFencedException e)
            {
                Status.Disconnected(new LinkFailure(e.Message, Refused: true));
                LogFencedStop(Target.ReplicationId, e.Message);
                break;
            }
            catch (Exception e)
            {
                var failure = (e as LinkFailedException)?.Failure ?? new LinkFailure(e.Message, Refused: false);
                Status.Disconnected(failure);
                // A link down for hours retries every second: say so once per reason, not per attempt.
                if (failure.Reason != lastReason)
                {
                    LogLinkFailed(Target.ReplicationId, Target.Peer.ToString(), attempt, backoff.TotalMilliseconds, failure.Reason);
                }
                lastReason = failure.Reason;
            }
            if (session.ReachedStreaming)
            {
                backoff = _settings.InitialBackoff;
                lastReason = null;
                backlog.Restart();
            }
            try
            {
                // While the link is down the backlog's plan keeps up with the writers, so a
                // catch-up starts sending as soon as the link is back.
                backlog.ReadOn();
                Status.Planned(backlog.From == 0 ? 0 : backlog.Through);
                await Task.Delay(backoff, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _settings.MaxBackoff.Ticks));
        }
        Status.Disconnected();
        _receiver?.Dispose();
    }

    /// <summary>
    /// Asks the peer where the stream goes before each attempt. A backup cluster's controller
    /// names the node that receives this replication (the one it named last time, while that one
    /// lives); a node, or a version-1 peer, receives it itself. The stream then goes straight to
    /// that node: no volume data passes through a controller.
    /// </summary>
    private async Task<SiteLinkClient> LocateAsync(SiteLinkClient peer)
    {
        var answer = await peer.LocateAsync(Target.ReplicationId, Target.SiteId, _located,
            Target.VolumeIds.Select(Target.Replication.Describe), _settings.OpenTimeout, _stop.Token).ConfigureAwait(false);
        _located = answer?.Owner;
        if (answer?.Address is not { } address)
        {
            return peer;
        }
        if (_receiver?.Peer != address)
        {
            _receiver?.Dispose();
            _receiver = new SiteLinkClient(address, Target.Tls);
        }
        return _receiver;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "replication {ReplicationId}: shipping stopped: {Reason}")]
    private partial void LogFencedStop(string replicationId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "replication {ReplicationId}: link to {Peer} failed (attempt {Attempt}), retrying with backoff (next in {DelayMs} ms): {Reason}")]
    private partial void LogLinkFailed(string replicationId, string peer, int attempt, double delayMs, string reason);
}
