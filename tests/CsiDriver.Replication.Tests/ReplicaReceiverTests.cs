using CsiDriver.Replication;
using CsiDriver.Rpc;
using Formation.SiteLink.V1;
using Google.Protobuf;

namespace CsiDriver.Replication.Tests;

/// <summary>The backup's receiver as a shipper drives it: batches (and a resync's chunks) sent
/// ahead of their acknowledgements are joined into fewer durable applies, and the position stays exact.</summary>
public sealed class ReplicaReceiverTests : BackupSiteTests
{
    private const int BlocksPerBatch = 64;
    private const int Slots = (int)(Volumes.Size / 4096);

    [Fact]
    public async Task Queued_batches_are_joined_into_fewer_records_and_a_new_stream_resumes_exactly_after_the_last_one_applied()
    {
        using var client = GrpcClient.ForTcp("127.0.0.1", Backup.Port, Certificates.Main.Authorities, Certificates.Main.Certificate);
        const int firstRun = 40;
        long recordsBefore;
        await using (var call = await OpenAsync(client))
        {
            Assert.Equal(0, call.Applied);
            var journal = Backup.Engine.GetVolume("solo").Group;
            recordsBefore = Backup.Engine.GetJournalStatus(journal).LastSequence;
            await SendBehindAHeldApplyAsync(call, Enumerable.Range(1, firstRun).Select(sequence => Batch(sequence)));
            var acks = await ReadAcksThroughAsync(call.Responses, firstRun);
            Assert.Equal(firstRun, acks[^1].AppliedSequence);
            // Later applies took several batches at once: fewer records and acks than batches.
            var records = Backup.Engine.GetJournalStatus(journal).LastSequence - recordsBefore;
            Assert.True(records < firstRun, $"{records} journal records for {firstRun} batches");
            Assert.True(acks.Count < firstRun, $"{acks.Count} acks for {firstRun} batches");
            Assert.All(acks.Zip(acks.Skip(1)), pair => Assert.True(pair.Second.ThroughMessage > pair.First.ThroughMessage));

            // More batches, then the stream is cut without waiting: whatever was applied was
            // applied whole, so the next stream starts exactly there.
            for (var sequence = firstRun + 1; sequence <= 2 * firstRun; sequence++)
            {
                await call.Call.WriteAsync(Batch(sequence));
            }
        }
        // A new stream waits for the cut one to finish applying, so its position is final.
        await using (var call = await OpenAsync(client))
        {
            var applied = call.Applied;
            Assert.InRange(applied, firstRun, 2 * firstRun);
            Assert.Equal(Expected(applied), await Volumes.ReadSlotsAsync(Backup.Engine.GetVolume("solo"), Slots));
            // One already-applied batch first: ignored, then the rest joins on.
            await call.Call.WriteAsync(Batch(applied));
            for (var sequence = applied + 1; sequence <= 3 * firstRun; sequence++)
            {
                await call.Call.WriteAsync(Batch(sequence));
            }
            var acks = await ReadAcksThroughAsync(call.Responses, 3 * firstRun - applied + 1);
            Assert.Equal(3 * firstRun, acks[^1].AppliedSequence);
        }
        Assert.Equal(Expected(3 * firstRun), await Volumes.ReadSlotsAsync(Backup.Engine.GetVolume("solo"), Slots));
    }

    [Fact]
    public async Task Queued_resync_chunks_are_written_together_and_the_resync_completes_with_all_of_them()
    {
        using var client = GrpcClient.ForTcp("127.0.0.1", Backup.Port, Certificates.Main.Authorities, Certificates.Main.Certificate);
        const int messages = 12;
        await using var call = await OpenAsync(client);
        await call.Call.WriteAsync(new ShipperMessage { ResyncBegin = new ResyncBegin { ChunksTotal = messages * BlocksPerBatch, BytesTotal = messages * BlocksPerBatch * 4096L } });
        await ReadAcksThroughAsync(call.Responses, 1);
        await SendBehindAHeldApplyAsync(call, Enumerable.Range(1, messages).Select(number =>
        {
            var chunks = new Chunks();
            chunks.Updates.AddRange(Updates(number));
            return new ShipperMessage { Chunks = chunks };
        }));
        var acks = await ReadAcksThroughAsync(call.Responses, 1 + messages);
        Assert.True(acks.Count < messages, $"{acks.Count} acks for {messages} chunk messages");
        Assert.All(acks, ack => Assert.Equal(call.Applied, ack.AppliedSequence)); // chunks move no position

        await call.Call.WriteAsync(new ShipperMessage { ResyncComplete = new ResyncComplete { SourceSequence = messages, SourceTimestampMicros = 1_000 * messages } });
        var completed = await ReadAcksThroughAsync(call.Responses, 2 + messages);
        Assert.Equal(messages, completed[^1].AppliedSequence);
        Assert.Equal(Expected(messages), await Volumes.ReadSlotsAsync(Backup.Engine.GetVolume("solo"), Slots));
        // Dropped after the ack, not before it.
        await Volumes.WaitUntilAsync(() => !Backup.Engine.Snapshots.Any(s => s.Purpose == Engine.SnapshotPurpose.ResyncProtection), "the resync's protective snapshot dropped");
    }

    /// <summary>Sends <paramref name="messages"/> while the group is held: the first apply cannot
    /// finish, so the receiver queues what follows (counted as it is heard), and the applier
    /// finds the queue once let go.</summary>
    private async Task SendBehindAHeldApplyAsync(OpenStream call, IEnumerable<ShipperMessage> messages)
    {
        var link = Backup.Manager.ReceiverLinks("solo").Single();
        var heardBefore = link.MessagesHeard;
        Task sending;
        using (new TestSupport.GroupHold(Backup.Engine.GetVolume("solo").Group))
        {
            sending = Task.Run(async () =>
            {
                foreach (var message in messages)
                {
                    await call.Call.WriteAsync(message);
                }
            });
            await Volumes.WaitUntilAsync(() => link.MessagesHeard - heardBefore >= 3 || sending.IsFaulted, "three messages heard behind the held apply");
        }
        await sending;
    }

    private sealed record OpenStream(DuplexCall<ShipperMessage, ReceiverMessage> Call, IAsyncEnumerator<ReceiverMessage> Responses, long Applied) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Responses.DisposeAsync();
            await Call.DisposeAsync();
        }
    }

    private static async Task<OpenStream> OpenAsync(GrpcClient client)
    {
        var call = client.Duplex<ShipperMessage, ReceiverMessage>(SiteLinkProtocol.ReplicateMethod);
        var open = new Open { ProtocolVersion = SiteLinkProtocol.CurrentVersion, ReplicationId = "solo", Mode = ReplicationMode.Group, SiteId = "main" };
        open.Volumes.Add(new ReplicaVolume { VolumeId = "solo", SizeBytes = Volumes.Size });
        await call.WriteAsync(new ShipperMessage { Open = open });
        var responses = call.ResponseStream.GetAsyncEnumerator();
        Assert.True(await responses.MoveNextAsync());
        return new OpenStream(call, responses, responses.Current.Opened.AppliedSequence);
    }

    /// <summary>Source record <paramref name="sequence"/> as a batch of its own: it fills
    /// <see cref="BlocksPerBatch"/> consecutive slots (wrapping round the volume) with its number.</summary>
    private static ShipperMessage Batch(long sequence)
    {
        var batch = new Batch { AfterSequence = sequence - 1, LastSequence = sequence, SourceTimestampMicros = 1_000 * sequence };
        batch.Updates.AddRange(Updates(sequence));
        return new ShipperMessage { Batch = batch };
    }

    private static IEnumerable<Update> Updates(long sequence) => Enumerable.Range(0, BlocksPerBatch).Select(block => new Update
    {
        VolumeId = "solo",
        Kind = UpdateKind.Write,
        Offset = SlotOf(sequence, block) * 4096L,
        Length = 4096,
        Payload = ByteString.CopyFrom(Volumes.Block((int)sequence)),
    });

    private static int SlotOf(long sequence, int block) => (int)(((sequence - 1) * BlocksPerBatch + block) % Slots);

    /// <summary>The slots after records 1 to <paramref name="sequence"/> were applied.</summary>
    private static int[] Expected(long sequence)
    {
        var slots = new int[Slots];
        for (var s = 1L; s <= sequence; s++)
        {
            for (var block = 0; block < BlocksPerBatch; block++)
            {
                slots[SlotOf(s, block)] = (int)s;
            }
        }
        return slots;
    }

    private static async Task<List<Ack>> ReadAcksThroughAsync(IAsyncEnumerator<ReceiverMessage> responses, long message)
    {
        var acks = new List<Ack>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (acks.Count == 0 || acks[^1].ThroughMessage < message)
        {
            Assert.True(await responses.MoveNextAsync().AsTask().WaitAsync(timeout.Token), "the stream ended");
            acks.Add(responses.Current.Ack);
        }
        return acks;
    }
}
