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
    /// like any batch, so the position still moves only by whole messages' worth. A batch that
    /// is not the next one due (a duplicate or a gap) is applied alone, for the engine to
    /// ignore or refuse as before. A resync's Chunks go to <see cref="WriteChunksAsync"/>.
    /// A completed resync's protective snapshots are dropped once its ack is out.</summary>
    private async Task ApplyQueuedAsync(ChannelReader<Received> queue, ReceiverLease lease, ReplicaPosition position, IResponseStream<ReceiverMessage> responses, CancellationToken cancellationToken)
    {
        while (await queue.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!queue.TryRead(out var received))
            {
                continue;
            }
            var through = received.Number;
            if (received.Batch is { } first && first.AfterSequence == position.SourceSequence)
            {
                var joined = new ReplicaBatchBuilder();
                joined.TryAdd(first);
                while (queue.TryPeek(out var next) && next.Batch is { } batch && joined.TryAdd(batch))
                {
                    queue.TryRead(out _);
                    through = next.Number;
                }
                position = await ApplyBatchAsync(joined.Build(), lease, cancellationToken).ConfigureAwait(false);
            }
            else if (received.Chunks is not null)
            {
                var unmoved = position; // chunks move no position
                await WriteChunksAsync(received, queue, lease, chunksThrough => AckAsync(chunksThrough, unmoved), cancellationToken).ConfigureAwait(false);
                continue;
            }
            else
            {
                position = await ApplyAsync(received, lease, position, cancellationToken).ConfigureAwait(false);
            }
            await AckAsync(through, position).ConfigureAwait(false);
            if (received.Message.BodyCase == ShipperMessage.BodyOneofCase.ResyncComplete)
            {
                // After the ack: the replicas are current without it, and it may wait for a checkpoint.
                engine.DropReplicaResyncProtection(lease.Journal);
            }
        }

        Task AckAsync(long through, ReplicaPosition at) => responses.WriteAsync(new ReceiverMessage
        {
            Ack = new Ack
            {
                ThroughMessage = through,
                AppliedSequence = at.SourceSequence,
                AppliedSourceTimestampMicros = at.SourceTimestampMicros,
            },
        }, cancellationToken);
    }

    /// <summary>Writes a resync's Chunks from <paramref name="first"/> on as they come, and
    /// acknowledges each write once it is durable. Those queued behind one another go in one
    /// engine write (one sync; they move no position, so joining them changes only how many syncs
    /// a catch-up takes, and the queue, all a shipper may have in flight, bounds the join), and
    /// those that arrive while earlier writes sync are written meanwhile (the
    /// engine syncs off this thread), so the backup copies chunks in while its disk syncs; the
    /// acks still go in order, each as soon as its write is durable, so the shipper's window
    /// keeps moving. Returns when no write is left unacknowledged and the next message due is
    /// not Chunks.</summary>
    private async Task WriteChunksAsync(Received first, ChannelReader<Received> queue, ReceiverLease lease, Func<long, Task> acknowledge, CancellationToken cancellationToken)
    {
        var pending = new Queue<(Task Synced, long Through, List<ReplicaUpdate> Updates)>();
        Received? next = first;
        while (true)
        {
            if (next is { Chunks: { } chunks })
            {
                List<ReplicaUpdate> updates = [.. chunks];
                var through = next.Number;
                while (queue.TryPeek(out var queued) && queued.Chunks is { } more)
                {
                    queue.TryRead(out _);
                    updates.AddRange(more);
                    through = queued.Number;
                }
                pending.Enqueue((engine.WriteReplicaChunksAsync(lease.Journal, updates, cancellationToken).AsTask(), through, updates));
                next = null;
            }
            while (pending.TryPeek(out var oldest) && oldest.Synced.IsCompleted)
            {
                pending.Dequeue();
                await oldest.Synced.ConfigureAwait(false);
                RecordSizes(oldest.Updates);
                var data = oldest.Updates.Where(u => u.Kind != Engine.Journal.JournalRecordKind.Resize).ToList();
                lease.Status.AddResyncProgress(data.Count, data.Sum(u => u.Length));
                await acknowledge(oldest.Through).ConfigureAwait(false);
            }
            if (pending.Count == 0)
            {
                return;
            }
            // The oldest write's sync (its ack is sent above), or more chunks to write meanwhile.
            var syncing = pending.Peek().Synced;
            var arrived = queue.WaitToReadAsync(cancellationToken).AsTask();
            if (await Task.WhenAny(syncing, arrived).ConfigureAwait(false) == syncing)
            {
                continue;
            }
            if (await arrived.ConfigureAwait(false) && queue.TryPeek(out var due) && due.Chunks is not null)
            {
                queue.TryRead(out next);
                continue;
            }
            // Something else is due, or the stream ended: the writes in flight are finished first.
            await Task.WhenAll(pending.Select(p => p.Synced)).ConfigureAwait(false);
        }
    }

    private async Task<ReplicaPosition> ApplyAsync(Received received, ReceiverLease lease, ReplicaPosition position, CancellationToken cancellationToken)
    {
        var message = received.Message;
        var status = lease.Status;
        switch (message.BodyCase)
        {
            case ShipperMessage.BodyOneofCase.ResyncBegin:
                engine.BeginReplicaResync(lease.Journal);
                status.BeginResync(message.ResyncBegin.ChunksTotal, message.ResyncBegin.BytesTotal);
                LogResyncBegins(lease.ReplicationId, message.ResyncBegin.ChunksTotal, message.ResyncBegin.BytesTotal);
                return engine.GetReplicaPosition(lease.Journal);
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
            case ShipperMessage.BodyOneofCase.Heartbeat:
                status.SourceAt(Math.Max(message.Heartbeat.SourceLastSequence, position.SourceSequence));
                return position;
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
