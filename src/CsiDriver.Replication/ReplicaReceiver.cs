using System.Diagnostics;
using System.Threading.Channels;
using CsiDriver.Engine;
using CsiDriver.Engine.Replication;
using CsiDriver.Rpc;
using Formation.SiteLink.V1;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Replication;

/// <summary>
/// The backup's side of one Replicate stream, the receiving half of the site link's edge (the
/// <see cref="SiteLinkService"/> hands it each stream): messages in, domain calls to the
/// manager and the engine, acknowledgements out. Checks the Open, has the manager accept it
/// (replica volumes and rows created, role checked), answers Opened with the replicas'
/// position, then applies every message in order and acknowledges each once it is durable.
/// The engine applies a batch atomically with its position, ignores a duplicate and refuses a
/// gap, so a resumed stream can neither skip nor repeat a record.
/// </summary>
public sealed partial class ReplicaReceiver(ReplicationManager manager, StorageEngine engine, ILoggerFactory loggerFactory)
{
    private readonly ILogger _log = loggerFactory.CreateLogger<ReplicaReceiver>();

    public async Task RunAsync(IAsyncEnumerable<ShipperMessage> requests, IResponseStream<ReceiverMessage> responses, CallContext context)
    {
        // Not disposed: a read abandoned on silence or takeover may still be pending (the request
        // stream follows the call's cancellation only), and it ends with the call.
        var messages = requests.GetAsyncEnumerator(context.CancellationToken);
        if (!await messages.MoveNextAsync().ConfigureAwait(false) || messages.Current.Open is not { } open)
        {
            throw new MalformedMessageException("the first message of a Replicate stream must be Open");
        }
        // From here on every id is this site's (see PeerIds); updates are mapped by the table.
        var (request, localVolumeIds, shipper) = PeerIds.Localize(SiteLinkProtocol.FromWire(open), manager.OwnerTag);
        ReceiverLease accepted;
        try
        {
            accepted = await manager.AcceptStreamAsync(request, shipper, context.CancellationToken).ConfigureAwait(false);
        }
        catch (StaleShipperException e)
        {
            // Told before the refusal, so the shipper's site fences itself.
            await responses.WriteAsync(new ReceiverMessage
            {
                Opened = new Opened { ProtocolVersion = SiteLinkProtocol.CurrentVersion, SiteId = manager.SiteId, Epoch = e.Epoch, ReplicaOwner = manager.OwnerTag ?? "" },
            }, context.CancellationToken).ConfigureAwait(false);
            throw;
        }
        using var lease = accepted;
        using var stream = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lease.Superseded);
        var position = engine.GetReplicaPosition(lease.Journal);
        var status = lease.Status;
        status.Connected();
        status.Applied(position.SourceSequence, position.SourceTimestampMicros);
        var opened = new Opened
        {
            ProtocolVersion = SiteLinkProtocol.CurrentVersion,
            AppliedSequence = position.SourceSequence,
            AppliedSourceTimestampMicros = position.SourceTimestampMicros,
            Resyncing = position.Resyncing,
            SiteId = manager.SiteId,
            AwaitingFailback = lease.Divergence is not null,
            FullResyncRequired = lease.Divergence?.NeedsEverything ?? false,
            ReplicaOwner = manager.OwnerTag ?? "",
            Epoch = manager.RoleOf(request.ReplicationId)?.Epoch ?? 0,
        };
        if (lease.Divergence is { NeedsEverything: false } divergence)
        {
            foreach (var volume in request.Volumes)
            {
                opened.Diverged.Add(SiteLinkProtocol.ToWire(volume.VolumeId, divergence.Ranges(volume.VolumeId, engine.GetVolume(volume.VolumeId).Size)));
            }
        }
        LogAccepted(request.ReplicationId, request.SiteId, position.SourceSequence, lease.Divergence is not null);
        await responses.WriteAsync(new ReceiverMessage { Opened = opened }, stream.Token).ConfigureAwait(false);
        using var pipeline = CancellationTokenSource.CreateLinkedTokenSource(stream.Token);
        var queue = Channel.CreateBounded<Received>(new BoundedChannelOptions(QueuedMessages) { SingleReader = true, SingleWriter = true });
        var receiving = ReceiveAsync(messages, queue.Writer, lease, localVolumeIds, pipeline.Token);
        try
        {
            try
            {
                await ApplyQueuedAsync(queue.Reader, lease, position, responses, pipeline.Token).ConfigureAwait(false);
            }
            finally
            {
                // Applying failed or the stream ended: the receiving loop stops with it.
                await pipeline.CancelAsync().ConfigureAwait(false);
            }
            await receiving.ConfigureAwait(false); // its failure (silence, a malformed message) ends the stream
        }
        catch (OperationCanceledException) when (lease.Superseded.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(StatusCode.Aborted, $"replication '{request.ReplicationId}': the stream was superseded (promotion, disable or a newer stream)");
        }
        catch (TimeoutException)
        {
            throw new RpcException(StatusCode.DeadlineExceeded, $"replication '{request.ReplicationId}': the shipper sent nothing for {manager.ReceiverSilenceTimeout.TotalSeconds:0} s");
        }
        catch (ReplicaSequenceException e)
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"replication '{request.ReplicationId}': {e.Message}");
        }
        finally
        {
            status.Disconnected();
            // Stopped with the pipeline; its failure counts only where applying did not fail first.
            await receiving.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Received messages the applier has not taken yet: all a shipper may have in flight.</summary>
    private const int QueuedMessages = SiteLinkProtocol.MaxInflightBytes / SiteLinkProtocol.MaxPayloadPerMessage + 1;

    /// <summary>A received message, numbered from 1 after Open; a Batch or Chunks already turned
    /// into the engine's form, with this site's volume ids.</summary>
    private sealed record Received(long Number, ShipperMessage Message, ReplicaBatch? Batch, List<ReplicaUpdate>? Chunks);

    /// <summary>Reads the stream into <paramref name="queue"/> while earlier messages are applied,
    /// so receiving, decrypting and parsing overlap the backup's writes and syncs.</summary>
    private async Task ReceiveAsync(IAsyncEnumerator<ShipperMessage> messages, ChannelWriter<Received> queue, ReceiverLease lease, IReadOnlyDictionary<string, string> localVolumeIds, CancellationToken cancellationToken)
    {
        try
        {
            long number = 0;
            // A shipper sends at least a heartbeat a second; a stream silent for much longer is
            // dead (a partition leaves the connection open) and must not hold the link.
            while (await messages.MoveNextAsync().AsTask().WaitAsync(manager.ReceiverSilenceTimeout, cancellationToken).ConfigureAwait(false))
            {
                lease.Status.Heard();
                var message = messages.Current;
                var batch = message.Batch is { } b
                    ? new ReplicaBatch(b.AfterSequence, b.LastSequence, b.SourceTimestampMicros, Updates(b.Updates, localVolumeIds))
                    : null;
                var chunks = message.Chunks is { } c ? Updates(c.Updates, localVolumeIds) : null;
                await queue.WriteAsync(new Received(++number, message, batch, chunks), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            queue.TryComplete();
        }
    }

    /// <summary>Applies the received messages in order and acknowledges each once durable.
    /// Batches already queued behind the next one due are joined into one engine batch (one
    /// record, one sync), acknowledged together by the last one's number: the join is atomic
    /// like any batch, so the position still moves only by whole messages' worth. The engine
    /// takes a batch in memory and syncs it in the background (<see cref="StorageEngine.AppendReplicaBatch"/>),
    /// so the next batches are taken while earlier ones wait for their sync: their acks wait in
    /// <c>unacked</c>, in order, and go out as each becomes durable. Memory: an entry there holds
    /// no payload (the engine's overlay has copied it, within its bound); the batches behind
    /// them are at most what the shipper may have in flight (its window). A message's payloads
    /// point into one pooled buffer (<see cref="ShipperMessageDecoder"/>), given back as soon as
    /// the engine call that copies or writes them returns (one that fails leaves it to the GC;
    /// the stream ends anyway). A heartbeat's ack
    /// queues behind them. A resync's Chunks go the same way: those queued behind one another
    /// are written in one engine call (they move no position, so joining them changes only how
    /// many syncs a catch-up takes; the queue bounds the join), synced off this thread while the
    /// next ones are written, and acknowledged in order once durable. Any other message waits
    /// for every earlier ack first, then is applied alone: a batch that is not the next one due
    /// (a duplicate or a gap) for the engine to ignore or refuse as before, a resync's begin and
    /// completion. A completed resync's protective snapshots are dropped once its ack is out.</summary>
    private async Task ApplyQueuedAsync(ChannelReader<Received> queue, ReceiverLease lease, ReplicaPosition position, IResponseStream<ReceiverMessage> responses, CancellationToken cancellationToken)
    {
        var unacked = new Queue<Unacked>();
        Task<bool>? more = null;
        while (true)
        {
            await AcknowledgeDurableAsync(unacked, lease, responses, all: false, cancellationToken).ConfigureAwait(false);
            if (!queue.TryRead(out var received))
            {
                more ??= queue.WaitToReadAsync(cancellationToken).AsTask();
                if (unacked.Count > 0 && !more.IsCompleted)
                {
                    await Task.WhenAny(more, unacked.Peek().Durable).ConfigureAwait(false);
                }
                else if (await more.ConfigureAwait(false))
                {
                    more = null;
                }
                else
                {
                    break;
                }
                continue;
            }
            var through = received.Number;
            if (received.Batch is { } first && first.AfterSequence == position.SourceSequence)
            {
                var joined = new ReplicaBatchBuilder();
                joined.TryAdd(first);
                var taken = new List<ShipperMessage> { received.Message };
                while (queue.TryPeek(out var next) && next.Batch is { } batch && joined.TryAdd(batch))
                {
                    queue.TryRead(out _);
                    taken.Add(next.Message);
                    through = next.Number;
                }
                var joinedBatch = joined.Build();
                var appended = engine.AppendReplicaBatch(lease.Journal, joinedBatch, cancellationToken);
                taken.ForEach(ShipperMessageDecoder.Release); // the engine has copied and journaled the payloads
                RecordSizes(joinedBatch.Updates);
                position = appended.Position;
                var (at, bytes, started) = (position, joinedBatch.Updates.Sum(u => (long)u.Payload.Length), Stopwatch.GetTimestamp());
                unacked.Enqueue(new Unacked(through, position, appended.Durable, () =>
                {
                    lease.Status.CountApplied(bytes);
                    lease.Status.Synced(Stopwatch.GetElapsedTime(started), bytes);
                    lease.Status.Applied(at.SourceSequence, at.SourceTimestampMicros);
                }));
                continue;
            }
            if (received.Message.BodyCase == ShipperMessage.BodyOneofCase.Heartbeat)
            {
                lease.Status.SourceAt(Math.Max(received.Message.Heartbeat.SourceLastSequence, position.SourceSequence));
                unacked.Enqueue(new Unacked(through, position, unacked.LastOrDefault()?.Durable ?? Task.CompletedTask, null));
                continue;
            }
            if (received.Chunks is { } chunks)
            {
                var joined = new List<ReplicaUpdate>(chunks);
                var taken = new List<ShipperMessage> { received.Message };
                while (queue.TryPeek(out var next) && next.Chunks is { } following)
                {
                    queue.TryRead(out _);
                    joined.AddRange(following);
                    taken.Add(next.Message);
                    through = next.Number;
                }
                var written = engine.WriteReplicaChunksAsync(lease.Journal, joined, cancellationToken).AsTask();
                taken.ForEach(ShipperMessageDecoder.Release); // written to the journal and the replicas
                unacked.Enqueue(new Unacked(through, position, written, () =>
                {
                    RecordSizes(joined);
                    var data = joined.Where(u => u.Kind != Engine.Journal.JournalRecordKind.Resize).ToList();
                    lease.Status.AddResyncProgress(data.Count, data.Sum(u => u.Length));
                }));
                continue;
            }
            await AcknowledgeDurableAsync(unacked, lease, responses, all: true, cancellationToken).ConfigureAwait(false);
            position = await ApplyAsync(received, lease, position, cancellationToken).ConfigureAwait(false);
            ShipperMessageDecoder.Release(received.Message);
            await AcknowledgeAsync(through, position, responses, cancellationToken).ConfigureAwait(false);
            if (received.Message.BodyCase == ShipperMessage.BodyOneofCase.ResyncComplete)
            {
                // After the ack: the replicas are current without it, and it may wait for a checkpoint.
                engine.DropReplicaResyncProtection(lease.Journal);
            }
        }
        await AcknowledgeDurableAsync(unacked, lease, responses, all: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A message taken whose ack waits for <see cref="Durable"/>: a batch appended, a
    /// resync's chunks written, or a heartbeat behind one; <see cref="Done"/> tells the status
    /// (applied, resync progress) once it is durable.</summary>
    private sealed record Unacked(long Through, ReplicaPosition Position, Task Durable, Action? Done);

    /// <summary>Sends the acks, in order, of the messages at the head of <paramref name="unacked"/>
    /// whose batches are durable; with <paramref name="all"/>, waits for each in turn. A failed
    /// sync fails the stream here.</summary>
    private async Task AcknowledgeDurableAsync(Queue<Unacked> unacked, ReceiverLease lease, IResponseStream<ReceiverMessage> responses, bool all, CancellationToken cancellationToken)
    {
        while (unacked.TryPeek(out var oldest) && (all || oldest.Durable.IsCompleted))
        {
            await oldest.Durable.WaitAsync(cancellationToken).ConfigureAwait(false);
            unacked.Dequeue();
            oldest.Done?.Invoke();
            await AcknowledgeAsync(oldest.Through, oldest.Position, responses, cancellationToken).ConfigureAwait(false);
        }
    }

    private static Task AcknowledgeAsync(long through, ReplicaPosition position, IResponseStream<ReceiverMessage> responses, CancellationToken cancellationToken) =>
        responses.WriteAsync(new ReceiverMessage
        {
            Ack = new Ack
            {
                ThroughMessage = through,
                AppliedSequence = position.SourceSequence,
                AppliedSourceTimestampMicros = position.SourceTimestampMicros,
            },
        }, cancellationToken);

    private async Task<ReplicaPosition> ApplyAsync(Received received, ReceiverLease lease, ReplicaPosition position, CancellationToken cancellationToken)
    {
        var message = received.Message;
        var status = lease.Status;
        switch (message.BodyCase)
        {
            case ShipperMessage.BodyOneofCase.ResyncBegin:
                engine.BeginReplicaResync(lease.Journal, fromNothing: message.ResyncBegin.Whole);
                status.BeginResync(message.ResyncBegin.ChunksTotal, message.ResyncBegin.BytesTotal);
                LogResyncBegins(lease.ReplicationId, message.ResyncBegin.ChunksTotal, message.ResyncBegin.BytesTotal);
                return engine.GetReplicaPosition(lease.Journal);
            case ShipperMessage.BodyOneofCase.Chunks:
                var updates = received.Chunks!;
                await engine.WriteReplicaChunksAsync(lease.Journal, updates, cancellationToken).ConfigureAwait(false);
                RecordSizes(updates);
                var data = updates.Where(u => u.Kind != Engine.Journal.JournalRecordKind.Resize).ToList();
                status.AddResyncProgress(data.Count, data.Sum(u => u.Length));
                return position;
            case ShipperMessage.BodyOneofCase.ResyncComplete:
                var complete = message.ResyncComplete;
                await engine.CompleteReplicaResyncAsync(lease.Journal, new ReplicaPosition(complete.SourceSequence, complete.SourceTimestampMicros, false), cancellationToken).ConfigureAwait(false);
                var chunks = status.CompleteResync();
                manager.OnReceiverResyncCompleted(lease);
                LogResyncCompleted(lease.ReplicationId, chunks, complete.SourceSequence);
                position = engine.GetReplicaPosition(lease.Journal);
                status.Applied(position.SourceSequence, position.SourceTimestampMicros);
                return position;
            case ShipperMessage.BodyOneofCase.Batch:
                return await ApplyBatchAsync(received.Batch!, lease, cancellationToken).ConfigureAwait(false);
            default:
                throw new MalformedMessageException($"unexpected {message.BodyCase} after Open");
        }
    }

    private async Task<ReplicaPosition> ApplyBatchAsync(ReplicaBatch batch, ReceiverLease lease, CancellationToken cancellationToken)
    {
        var status = lease.Status;
        var started = Stopwatch.GetTimestamp();
        var position = await engine.ApplyReplicaBatchAsync(lease.Journal, batch, cancellationToken).ConfigureAwait(false);
        RecordSizes(batch.Updates);
        var bytes = batch.Updates.Sum(u => (long)u.Payload.Length);
        status.CountApplied(bytes);
        status.Synced(Stopwatch.GetElapsedTime(started), bytes);
        status.Applied(position.SourceSequence, position.SourceTimestampMicros);
        return position;
    }

    /// <summary>The replicas' rows follow a size the main site gave them (the engine applied it).</summary>
    private void RecordSizes(IEnumerable<ReplicaUpdate> updates)
    {
        foreach (var resize in updates.Where(u => u.Kind == Engine.Journal.JournalRecordKind.Resize))
        {
            manager.Rows.RecordSize(resize.VolumeId, engine.GetVolume(resize.VolumeId).Size);
        }
    }

    /// <summary>The updates in the engine's form, each for this site's copy of the volume it names.</summary>
    private static List<ReplicaUpdate> Updates(IEnumerable<Update> updates, IReadOnlyDictionary<string, string> localVolumeIds)
    {
        var list = new List<ReplicaUpdate>();
        foreach (var update in updates)
        {
            if (!localVolumeIds.TryGetValue(update.VolumeId, out var local))
            {
                throw new MalformedMessageException($"update for volume '{update.VolumeId}', which the Open did not name");
            }
            list.Add(SiteLinkProtocol.FromWire(update, local));
        }
        return list;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "replication {ReplicationId}: accepted the shipper of site {SiteId}; replicas at source sequence {Applied}; failback resync {Failback}")]
    private partial void LogAccepted(string replicationId, string siteId, long applied, bool failback);

    [LoggerMessage(Level = LogLevel.Information, Message = "replication {ReplicationId}: resync begins: {Chunks} chunks, {Bytes} bytes")]
    private partial void LogResyncBegins(string replicationId, long chunks, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "replication {ReplicationId}: resync complete ({Chunks} chunks) at source sequence {Sequence}")]
    private partial void LogResyncCompleted(string replicationId, long chunks, long sequence);
}
