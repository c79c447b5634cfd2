using System.Diagnostics;
using CsiDriver.Engine;
using CsiDriver.Rpc;
using Formation.SiteLink.V1;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Replication;

/// <summary>
/// One stream of a shipper: Open, then a resync when the receiver needs one, then journal
/// batches until the stream fails or the shipper stops. Messages are numbered from 1 after
/// Open; the receiver acknowledges by number once durably applied, which releases flow-control
/// bytes and advances the journal consumer (so the journal may release what is applied).
/// </summary>
public sealed partial class ShipperSession(StorageEngine engine, ShipperTarget target, ShipperSettings settings, LinkStatus status, ILogger log, BacklogPlan backlog)
{
    private readonly InflightWindow _window = new(settings.MaxInflightBytes);
    private DuplexCall<ShipperMessage, ReceiverMessage>? _call;
    private long _sent;
    private long _lastAckTimestamp = Stopwatch.GetTimestamp();
    private long _lastSendTimestamp = Stopwatch.GetTimestamp();
    private static int ToldNotRaised;

    /// <summary>Acks of messages numbered from here on carry positions in this site's sequence
    /// space (during a resync they still carry the receiver's old position).</summary>
    private long _ownPositionsFrom = 1;

    /// <summary>Number of the ResyncComplete message while its ack is awaited; 0 otherwise.</summary>
    private long _resyncCompleteMessage;
    private bool _resyncIsFailback;
    private Exception? _ackFailure;

    /// <summary>The session got past any resync to streaming batches (the next reconnect starts its backoff afresh).</summary>
    public bool ReachedStreaming { get; private set; }

    /// <summary>How the shipped ids read at the receiver, once it answered the Open.</summary>
    public PeerIds? Peer { get; private set; }

    /// <exception cref="LinkFailedException">The link failed or the peer refused the stream.</exception>
    public async Task RunAsync(SiteLinkClient client, CancellationToken cancellationToken)
    {
        try
        {
            await RunStreamAsync(client, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw SiteLinkClient.Failed(e);
        }
        catch (IncompatiblePeerException e)
        {
            throw new LinkFailedException(new LinkFailure(e.Message, Refused: true), e);
        }
    }

    private async Task RunStreamAsync(SiteLinkClient client, CancellationToken cancellationToken)
    {
        using var session = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Connecting has no deadline of its own (a TLS handshake with a server going away can
        // hang): the whole opening is bounded, then the timer is switched off.
        session.CancelAfter(settings.OpenTimeout);
        await using var call = client.Replicate(session.Token);
        _call = call;
        var epoch = target.Replication.Epoch;
        var request = new StreamRequest(
            target.ReplicationId, target.Mode, target.ReplicaGroupName, target.VolumeIds.Select(target.Replication.Describe).ToList(),
            target.SiteId, target.SiteAddress, target.Replication.FailbackBase()?.CommonCutSequence ?? 0, epoch);
        await call.WriteAsync(new ShipperMessage { Open = SiteLinkProtocol.ToWire(request) }).ConfigureAwait(false);
        var responses = call.ResponseStream.GetAsyncEnumerator(session.Token);
        var opened = await ReadOpenedAsync(responses, session.Token).ConfigureAwait(false);
        if (opened.Epoch > epoch)
        {
            target.Replication.Superseded(opened.Epoch, opened.SiteId);
            throw new ShipperFencedException(target.ReplicationId, opened.SiteId, opened.Epoch);
        }
        session.CancelAfter(Timeout.InfiniteTimeSpan);
        Peer = PeerIds.Receiver(opened.ProtocolVersion, opened.ReplicaOwner);
        target.Replication.PeerAnswered(target.VolumeIds, Peer);
        LogOpened(target.ReplicationId, target.Peer.ToString(), opened.AppliedSequence, opened.Resyncing, opened.AwaitingFailback);
        var acks = ReadAcksAsync(responses, session);
        var watchdog = WatchForStallAsync(session);
        try
        {
            var from = await PrepareAsync(opened, session.Token).ConfigureAwait(false);
            status.Connected();
            ReachedStreaming = true;
            await ShippingThread.Run("journal-shipper", () => Stream(from, session.Token), NotRaisedOnce).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or RpcException { Status: StatusCode.Cancelled }
            && _ackFailure is not null && !cancellationToken.IsCancellationRequested)
        {
            // The session was ended for the reason the ack reader or the watchdog found.
            throw _ackFailure;
        }
        finally
        {
            await session.CancelAsync().ConfigureAwait(false);
            await acks.ConfigureAwait(false);
            await watchdog.ConfigureAwait(false);
        }
    }

    /// <summary>Ends the session when messages are in flight and nothing was acknowledged for
    /// the stall timeout: a path that drops packets without a reset leaves the sender blocked
    /// (full window, full HTTP/2 flow-control window) where it cannot look at the clock itself.</summary>
    private async Task WatchForStallAsync(CancellationTokenSource session)
    {
        try
        {
            while (true)
            {
                await Task.Delay(settings.StallTimeout / 4, session.Token).ConfigureAwait(false);
                if (_window.InflightBytes > 0 && Stopwatch.GetElapsedTime(Volatile.Read(ref _lastAckTimestamp)) > settings.StallTimeout)
                {
                    _ackFailure ??= new TimeoutException($"no acknowledgement from {target.Peer} for {settings.StallTimeout.TotalSeconds:0.#} s");
                    await session.CancelAsync().ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The session ended.
        }
    }

    private async Task<Opened> ReadOpenedAsync(IAsyncEnumerator<ReceiverMessage> responses, CancellationToken cancellationToken)
    {
        if (!await responses.MoveNextAsync().ConfigureAwait(false))
        {
            throw new RpcException(StatusCode.Unavailable, "the receiver ended the stream before answering Open");
        }
        var opened = responses.Current.Opened
            ?? throw new RpcException(StatusCode.Internal, $"the receiver answered Open with {responses.Current.BodyCase}");
        SiteLinkProtocol.CheckVersion(opened.ProtocolVersion);
        return opened;
    }

    /// <summary>Sends one message once the window has room; returns its number.</summary>
    private async Task<long> SendAsync(ShipperMessage message, CancellationToken cancellationToken)
    {
        var number = ++_sent;
        await _window.AcquireAsync(number, message.CalculateSize(), message.BodyCase == ShipperMessage.BodyOneofCase.Batch, cancellationToken).ConfigureAwait(false);
        await _call!.WriteAsync(message).ConfigureAwait(false);
        _lastSendTimestamp = Stopwatch.GetTimestamp();
        return number;
    }

    /// <summary>Streams batches from the journal until the session ends. Runs on its own
    /// thread (<see cref="ShippingThread"/>), which waits there for the window and the link
    /// rather than handing each step to the thread pool, where the writers' continuations queue
    /// ahead of it under full load.</summary>
    private void Stream(long after, CancellationToken cancellationToken)
    {
        using var batcher = new JournalBatcher(engine, target.Journal, target.VolumeIds.ToHashSet(StringComparer.Ordinal));
        var lastOverrunCheck = Stopwatch.GetTimestamp();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            JournalBatch? next;
            try
            {
                next = batcher.Next(after);
            }
            catch (Engine.OutOfRangeException e)
            {
                throw new JournalOverrunException(target.Journal.ToString(), e);
            }
            if (next is not { } batch)
            {
                if (Stopwatch.GetElapsedTime(lastOverrunCheck) > TimeSpan.FromMilliseconds(100))
                {
                    lastOverrunCheck = Stopwatch.GetTimestamp();
                    ThrowIfOverrun();
                }
                if (Stopwatch.GetElapsedTime(_lastSendTimestamp) > settings.HeartbeatInterval)
                {
                    SendAsync(new ShipperMessage { Heartbeat = new Heartbeat { SourceLastSequence = after, SourceTimestampMicros = NowMicros() } }, cancellationToken).GetAwaiter().GetResult();
                }
                status.SourceAt(after);
                cancellationToken.WaitHandle.WaitOne(settings.IdlePoll);
                continue;
            }
            SendAsync(new ShipperMessage { Batch = SiteLinkProtocol.ToWire(batch) }, cancellationToken).GetAwaiter().GetResult();
            status.CountShipped(batch.PayloadBytes);
            after = batch.LastSequence;
            status.SourceAt(after);
        }
    }

    /// <summary>Says once per process that shipping runs at the writers' rank, and why.</summary>
    private void NotRaisedOnce(string reason)
    {
        if (Interlocked.Exchange(ref ToldNotRaised, 1) == 0)
        {
            LogNotRaised(target.ReplicationId, reason);
        }
    }

    private void ThrowIfOverrun()
    {
        if (engine.GetJournalStatus(target.Journal).Consumers.Any(c => c.Name == target.Consumer && c.Overrun))
        {
            throw new JournalOverrunException(target.Journal.ToString(), null);
        }
    }

    private async Task ReadAcksAsync(IAsyncEnumerator<ReceiverMessage> responses, CancellationTokenSource session)
    {
        try
        {
            while (await responses.MoveNextAsync().ConfigureAwait(false))
            {
                var ack = responses.Current.Ack
                    ?? throw new RpcException(StatusCode.Internal, $"the receiver sent {responses.Current.BodyCase} where an Ack was due");
                OnAck(ack);
            }
            throw new RpcException(StatusCode.Unavailable, "the receiver ended the stream");
        }
        catch (OperationCanceledException) when (session.IsCancellationRequested)
        {
            // The session is ending for another reason.
        }
        catch (Exception e)
        {
            _ackFailure = e;
            await session.CancelAsync().ConfigureAwait(false);
        }
    }

    private void OnAck(Ack ack)
    {
        Volatile.Write(ref _lastAckTimestamp, Stopwatch.GetTimestamp());
        status.Heard();
        var released = _window.Release(ack.ThroughMessage);
        if (released.LastOrDefault(m => m.IsBatch) is { } batch)
        {
            status.Synced(Stopwatch.GetElapsedTime(batch.SentTimestamp), batch.Bytes);
        }
        status.CountApplied(released.Where(m => m.IsBatch).Sum(m => m.Bytes));
        if (ack.ThroughMessage >= Volatile.Read(ref _ownPositionsFrom))
        {
            status.Applied(ack.AppliedSequence, ack.AppliedSourceTimestampMicros);
            engine.AdvanceJournalConsumer(target.Journal, target.Consumer, ack.AppliedSequence);
        }
        var complete = Volatile.Read(ref _resyncCompleteMessage);
        if (complete > 0 && ack.ThroughMessage >= complete)
        {
            Volatile.Write(ref _resyncCompleteMessage, 0);
            LogResyncCompleted(target.ReplicationId, status.CompleteResync(), ack.AppliedSequence);
            if (_resyncIsFailback)
            {
                target.Replication.FailbackCompleted();
            }
        }
    }

    private static long NowMicros() => (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks / 10;

    [LoggerMessage(Level = LogLevel.Information, Message = "replication {ReplicationId}: link to {Peer} open; receiver at {AppliedSequence}, resyncing {Resyncing}, awaiting failback {AwaitingFailback}")]
    private partial void LogOpened(string replicationId, string peer, long appliedSequence, bool resyncing, bool awaitingFailback);

    [LoggerMessage(Level = LogLevel.Warning, Message = "replication {ReplicationId}: journal shipping runs at the writers' priority ({Reason}); under full load the backup may fall behind until the writers slow down")]
    private partial void LogNotRaised(string replicationId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "replication {ReplicationId}: resync complete ({Chunks} chunks), receiver at {AppliedSequence}")]
    private partial void LogResyncCompleted(string replicationId, long chunks, long appliedSequence);
}

/// <summary>The link failed, or its peer refused the stream (see <see cref="LinkFailure"/>).</summary>
public sealed class LinkFailedException(LinkFailure failure, Exception inner) : Exception(failure.Reason, inner)
{
    public LinkFailure Failure { get; } = failure;
}

/// <summary>The receiver was promoted at a newer epoch than this site's: this site is fenced
/// and its shipper stops (nothing it holds may reach a newer primary).</summary>
public sealed class ShipperFencedException(string replicationId, string siteId, long epoch)
    : Exception($"replication '{replicationId}': site '{siteId}' is primary at epoch {epoch}, newer than this site's; this site is fenced and stops shipping");

/// <summary>The journal released records the link had not shipped: a delta resync follows.</summary>
public sealed class JournalOverrunException(string journal, Exception? inner)
    : Exception($"journal '{journal}' released records the backup had not applied (retention budget exceeded): delta resync needed", inner);
