using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Layers;
using CsiDriver.Engine.Metadata;
using CsiDriver.Engine.Replication;

namespace CsiDriver.Engine;

public sealed partial class StorageEngine
{
    /// <summary>Replays a replica record: a batch's updates in order (each routed like an
    /// ordinary record of the same sequence) and the position it carries, or a state change.
    /// The record passed its checksum, so a batch that does not parse is corruption, not a torn write.</summary>
    private void ReplayReplica(string journal, Dictionary<uint, VolumeEntry> volumes, ReplicaReplay replayed, in RecordHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Kind == JournalRecordKind.ReplicaState)
        {
            replayed.State = ReplicaState.TryParse(payload, out var state, out var stateError)
                ? state
                : throw new CorruptionException($"journal {journal} record {header.Sequence}: {stateError}");
            return;
        }
        if (!ReplicaBatchRecord.TryParse(payload, out var reader, out var error))
        {
            throw new CorruptionException($"journal {journal} record {header.Sequence}: {error}");
        }
        while (reader.TryNext(out var update))
        {
            ReplayUpdate(journal, volumes, replayed, header.Sequence, update.VolumeNumber, update.Kind, update.Offset, update.Length, update.Data);
        }
        replayed.State = (replayed.State ?? default) with
        {
            SourceSequence = reader.LastSequence,
            SourceTimestampMicros = reader.SourceTimestampMicros,
        };
    }

    /// <summary>What replay learns beyond the data: the replica state of the journal being
    /// replayed, and volume sizes that replica batches grew (the catalog may not have been saved
    /// with them before a crash).</summary>
    private sealed class ReplicaReplay
    {
        private readonly Dictionary<uint, long> _sizes = [];

        public ReplicaState? State { get; set; }

        public long SizeOf(VolumeEntry volume) => Math.Max(volume.SizeBytes, _sizes.GetValueOrDefault(volume.Number));

        public void Grow(VolumeEntry volume, long sizeBytes, Layer top)
        {
            var size = Math.Max(SizeOf(volume), sizeBytes);
            _sizes[volume.Number] = size;
            top.Map.Grow(ChunksFor(size));
            top.SizeBytes = Math.Max(top.SizeBytes, size);
        }

        public VolumeEntry WithReplayedSize(VolumeEntry volume) => volume with { SizeBytes = SizeOf(volume) };
    }
}
