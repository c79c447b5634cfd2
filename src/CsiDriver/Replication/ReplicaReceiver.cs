using System.Diagnostics;
using CsiDriver.Engine;
using CsiDriver.Engine.Replication;
using CsiDriver.Rpc;
using Formation.SiteLink.V1;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Replication;

/// <summary>
/// The backup's side of one Replicate stream: checks the Open, has the manager accept it
/// (replica volumes and rows created, role checked), answers Opened with the replicas'
/// position, then applies every message in order and acknowledges each once it is durable.
/// The engine applies a batch atomically with its position, ignores a duplicate and refuses a
/// gap, so a resumed stream can neither skip nor repeat a record.
/// </summary>
public sealed partial class ReplicaReceiver(ReplicationManager manager, StorageEngine engine, ILogger log)
{
    public async Task RunAsync(IAsyncEnumerable<ShipperMessage> requests, IResponseStream<ReceiverMessage> responses, CallContext context)
    {
        // Not disposed: a read abandoned on silence or takeover may still be pending (the request
        // stream follows the call's cancellation only), and it ends with the call.
        var messages = requests.GetAsyncEnumerator(context.CancellationToken);
        if (!await messages.MoveNextAsync().ConfigureAwait(false) || messages.Current.Open is not { } open)
        {
            throw new RpcException(StatusCode.InvalidArgument, "the first message of a Replicate stream must be Open");
        }
        SiteLinkProtocol.CheckVersion(open.ProtocolVersion);
        Validate(open);
        using var lease = await manager.AcceptStreamAsync(open, context.CancellationToken).ConfigureAwait(false);
        using var stream = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lease.Superseded);
        var position = engine.GetReplicaPosition(lease.Journal);
        var status = lease.Status;
        status.SetConnected(true);
        status.SetApplied(position.SourceSequence, position.SourceTimestampMicros);
        var opened = new Opened
        {
            ProtocolVersion = SiteLinkProtocol.CurrentVersion,
            AppliedSequence = position.SourceSequence,
            AppliedSourceTimestampMicros = position.SourceTimestampMicros,
            Resyncing = position.Resyncing,
            SiteId = manager.SiteId,
            AwaitingFailback = lease.Divergence is not null,
            FullResyncRequired = lease.Divergence?.NeedsEverything ?? false,
        };
        if (lease.Divergence is { NeedsEverything: false } divergence)
        {
            foreach (var volume in open.Volumes)
            {
                opened.Diverged.Add(SiteLinkProtocol.ToWire(volume.VolumeId, divergence.Ranges(volume.VolumeId, engine.GetVolume(volume.VolumeId).Size)));
            }
        }
        LogAccepted(open.ReplicationId, open.SiteId, position.SourceSequence, lease.Divergence is not null);
        await responses.WriteAsync(new ReceiverMessage { Opened = opened }, stream.Token).ConfigureAwait(false);
        try
        {
            long number = 0;
            // A shipper sends at least a heartbeat a second; a stream silent for much longer is
            // dead (a partition leaves the connection open) and must not hold the link.
            while (await messages.MoveNextAsync().AsTask().WaitAsync(manager.ReceiverSilenceTimeout, stream.Token).ConfigureAwait(false))
            {
                number++;
                status.Heard();
                position = await ApplyAsync(messages.Current, lease, position, stream.Token).ConfigureAwait(false);
                await responses.WriteAsync(new ReceiverMessage
                {
                    Ack = new Ack
                    {
                        ThroughMessage = number,
                        AppliedSequence = position.SourceSequence,
                        AppliedSourceTimestampMicros = position.SourceTimestampMicros,
                    },
                }, stream.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (lease.Superseded.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(StatusCode.Aborted, $"replication '{open.ReplicationId}': the stream was superseded (promotion, disable or a newer stream)");
        }
        catch (TimeoutException)
        {
            throw new RpcException(StatusCode.DeadlineExceeded, $"replication '{open.ReplicationId}': the shipper sent nothing for {manager.ReceiverSilenceTimeout.TotalSeconds:0} s");
        }
        catch (ReplicaSequenceException e)
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"replication '{open.ReplicationId}': {e.Message}");
        }
        finally
        {
            status.SetConnected(false);
        }
    }

    private async Task<ReplicaPosition> ApplyAsync(ShipperMessage message, ReceiverLease lease, ReplicaPosition position, CancellationToken cancellationToken)
    {
        var status = lease.Status;
        switch (message.BodyCase)
        {
            case ShipperMessage.BodyOneofCase.ResyncBegin:
                engine.BeginReplicaResync(lease.Journal);
                status.BeginResync(message.ResyncBegin.ChunksTotal, message.ResyncBegin.BytesTotal);
                LogResyncBegins(lease.ReplicationId, message.ResyncBegin.ChunksTotal, message.ResyncBegin.BytesTotal);
                return engine.GetReplicaPosition(lease.Journal);
            case ShipperMessage.BodyOneofCase.Chunks:
                var updates = Updates(message.Chunks.Updates, lease);
                await engine.WriteReplicaChunksAsync(lease.Journal, updates, cancellationToken).ConfigureAwait(false);
                RecordSizes(updates);
                var data = updates.Where(u => u.Kind != Engine.Journal.JournalRecordKind.Resize).ToList();
                status.AddResyncProgress(data.Count, data.Sum(u => u.Length));
                return position;
            case ShipperMessage.BodyOneofCase.ResyncComplete:
                var complete = message.ResyncComplete;
                await engine.CompleteReplicaResyncAsync(lease.Journal, new ReplicaPosition(complete.SourceSequence, complete.SourceTimestampMicros, false), cancellationToken).ConfigureAwait(false);
                status.CompleteResync();
                manager.OnReceiverResyncCompleted(lease);
                LogResyncCompleted(lease.ReplicationId, status.LastResyncChunks, complete.SourceSequence);
                position = engine.GetReplicaPosition(lease.Journal);
                status.SetApplied(position.SourceSequence, position.SourceTimestampMicros);
                return position;
            case ShipperMessage.BodyOneofCase.Batch:
                var batch = message.Batch;
                var started = Stopwatch.GetTimestamp();
                var replicaBatch = new ReplicaBatch(batch.AfterSequence, batch.LastSequence, batch.SourceTimestampMicros, Updates(batch.Updates, lease));
                position = await engine.ApplyReplicaBatchAsync(lease.Journal, replicaBatch, cancellationToken).ConfigureAwait(false);
                RecordSizes(replicaBatch.Updates);
                var bytes = batch.Updates.Sum(u => (long)u.Payload.Length);
                status.Applied.Add(bytes);
                Interlocked.Exchange(ref status.LastSyncTicks, Stopwatch.GetElapsedTime(started).Ticks);
                Interlocked.Exchange(ref status.LastSyncBytes, bytes);
                status.SetApplied(position.SourceSequence, position.SourceTimestampMicros);
                return position;
            case ShipperMessage.BodyOneofCase.Heartbeat:
                Interlocked.Exchange(ref status.SourceLastSequence, Math.Max(message.Heartbeat.SourceLastSequence, position.SourceSequence));
                return position;
            default:
                throw new RpcException(StatusCode.InvalidArgument, $"unexpected {message.BodyCase} after Open");
        }
    }

    /// <summary>The replicas' rows follow a size the main site gave them (the engine applied it).</summary>
    private void RecordSizes(IEnumerable<ReplicaUpdate> updates)
    {
        foreach (var resize in updates.Where(u => u.Kind == Engine.Journal.JournalRecordKind.Resize))
        {
            ReplicaVolumes.RecordSize(manager.State, resize.VolumeId, engine.GetVolume(resize.VolumeId).Size);
        }
    }

    private static List<ReplicaUpdate> Updates(IEnumerable<Update> updates, ReceiverLease lease)
    {
        var list = new List<ReplicaUpdate>();
        foreach (var update in updates)
        {
            if (!lease.VolumeIds.Contains(update.VolumeId))
            {
                throw new RpcException(StatusCode.InvalidArgument, $"update for volume '{update.VolumeId}', which the Open did not name");
            }
            list.Add(SiteLinkProtocol.FromWire(update));
        }
        return list;
    }

    private static void Validate(Open open)
    {
        if (open.ReplicationId.Length == 0 || open.Volumes.Count == 0)
        {
            throw new RpcException(StatusCode.InvalidArgument, "Open needs a replication_id and at least one volume");
        }
        if (open.Mode == ReplicationMode.PerVolume && open.Volumes.Count != 1)
        {
            throw new RpcException(StatusCode.InvalidArgument, "a per-volume Open names exactly one volume");
        }
        foreach (var volume in open.Volumes)
        {
            if (!VolumeIds.IsValid(volume.VolumeId) || volume.SizeBytes <= 0)
            {
                throw new RpcException(StatusCode.InvalidArgument, $"Open names volume '{volume.VolumeId}' of {volume.SizeBytes} bytes");
            }
        }
        if (open.GroupName.Length > 0 && !VolumeIds.IsValid(open.GroupName))
        {
            throw new RpcException(StatusCode.InvalidArgument, $"consistency group '{open.GroupName}' is not a valid name");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "replication {ReplicationId}: accepted the shipper of site {SiteId}; replicas at source sequence {Applied}; failback resync {Failback}")]
    private partial void LogAccepted(string replicationId, string siteId, long applied, bool failback);

    [LoggerMessage(Level = LogLevel.Information, Message = "replication {ReplicationId}: resync begins: {Chunks} chunks, {Bytes} bytes")]
    private partial void LogResyncBegins(string replicationId, long chunks, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "replication {ReplicationId}: resync complete ({Chunks} chunks) at source sequence {Sequence}")]
    private partial void LogResyncCompleted(string replicationId, long chunks, long sequence);
}
