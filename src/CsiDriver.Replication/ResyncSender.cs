using System.Runtime.CompilerServices;
using System.Threading.Channels;
using CsiDriver.Engine;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Replication;

namespace CsiDriver.Replication;

/// <summary>
/// Reads the chunks of a resync from a group snapshot and hands them out in messages' worth of
/// updates, at most <see cref="SiteLinkProtocol.MaxPayloadPerMessage"/> payload bytes each. A chunk that reads
/// as zeroes travels as a WRITE_ZEROES range with no payload. Each volume's update list starts
/// with its size at the snapshot (RESIZE), so a volume grown since the Open is grown first.
/// </summary>
public sealed class ResyncSender(StorageEngine engine, IReadOnlyDictionary<string, string> snapshotsByVolume)
{
    /// <summary>Chunks and bytes the plan ships for volumes of the given sizes (a volume's last chunk may be short).</summary>
    public static (long Chunks, long Bytes) TotalsOf(ChunkSetBuilder chunks, IReadOnlyDictionary<string, long> sizes)
    {
        var ranges = sizes.SelectMany(v => chunks.Ranges(v.Key, v.Value)).ToList();
        return (ranges.Sum(r => (r.Length + ChunkRange.ChunkSize - 1) / ChunkRange.ChunkSize), ranges.Sum(r => r.Length));
    }

    /// <summary>Messages read ahead of the one being sent: enough to keep reading while a send
    /// waits for the link or the receiver's acks, few enough to hold little memory (each is at
    /// most <see cref="SiteLinkProtocol.MaxPayloadPerMessage"/>).</summary>
    private const int ReadAhead = 2;

    /// <summary>The updates of each message in order, with the number of chunks and bytes it
    /// covers. The next messages are read on another thread while the caller sends this one.</summary>
    public async IAsyncEnumerable<(IReadOnlyList<ReplicaUpdate> Updates, long Chunks, long Bytes)> ReadAsync(
        ChunkSetBuilder plan, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var ahead = Channel.CreateBounded<(IReadOnlyList<ReplicaUpdate>, long, long)>(new BoundedChannelOptions(ReadAhead) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reader = Task.Run(async () =>
        {
            try
            {
                await foreach (var message in ReadInOrderAsync(plan).ConfigureAwait(false))
                {
                    await ahead.Writer.WriteAsync(message, stop.Token).ConfigureAwait(false);
                }
                ahead.Writer.Complete();
            }
            catch (Exception e)
            {
                ahead.Writer.Complete(e);
            }
        }, CancellationToken.None);
        try
        {
            await foreach (var message in ahead.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return message;
            }
        }
        finally
        {
            // The caller stopped early (a failed send): the reader must be done with the snapshots
            // before they are deleted.
            await stop.CancelAsync().ConfigureAwait(false);
            await reader.ConfigureAwait(false);
        }
    }

    private async IAsyncEnumerable<(IReadOnlyList<ReplicaUpdate> Updates, long Chunks, long Bytes)> ReadInOrderAsync(ChunkSetBuilder plan)
    {
        foreach (var (volumeId, snapshotId) in snapshotsByVolume.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            var device = engine.OpenSnapshot(snapshotId);
            List<ReplicaUpdate> message = [new ReplicaUpdate(volumeId, JournalRecordKind.Resize, 0, device.Size, ReadOnlyMemory<byte>.Empty)];
            long payload = 0, chunks = 0, bytes = 0;
            foreach (var range in plan.Ranges(volumeId, device.Size))
            {
                for (var offset = range.Offset; offset < range.End; offset += ChunkRange.ChunkSize)
                {
                    var length = (int)Math.Min(ChunkRange.ChunkSize, range.End - offset);
                    if (payload + length > SiteLinkProtocol.MaxPayloadPerMessage)
                    {
                        yield return (message, chunks, bytes);
                        message = [];
                        payload = chunks = bytes = 0;
                    }
                    var data = GC.AllocateUninitializedArray<byte>(length); // filled by the read just below
                    await device.ReadAsync(offset, data).ConfigureAwait(false);
                    var zero = !data.AsSpan().ContainsAnyExcept((byte)0);
                    message.Add(new ReplicaUpdate(
                        volumeId, zero ? JournalRecordKind.WriteZeroes : JournalRecordKind.Write, offset, length, zero ? ReadOnlyMemory<byte>.Empty : data));
                    payload += zero ? 0 : length;
                    chunks++;
                    bytes += length;
                }
            }
            yield return (message, chunks, bytes);
        }
    }
}
