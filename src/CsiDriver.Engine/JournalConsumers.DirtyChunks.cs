using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Metadata;
using CsiDriver.Engine.Replication;

namespace CsiDriver.Engine;

/// <summary>
/// Dirty-chunk tracking: when the retention budget releases journal records a consumer had not
/// passed, the (volume, chunk) pairs those records touched are merged into the consumer's
/// persisted <see cref="DirtyChunkSet"/> before the segments go, so a delta resync can ship them
/// from a fresh snapshot instead of losing them.
/// On-disk invariant: the set is written (atomically) before the segments it describes are
/// deleted, and is removed only after a checkpoint recorded the consumer's reset position; a
/// dirty file that exists therefore marks its consumer overrun on open (the checkpoint written
/// before the release may still say otherwise). A set may hold more than was lost, never less.
/// </summary>
internal sealed partial class JournalConsumers
{
    /// <summary>Chunks touched by records released before <paramref name="consumer"/> passed
    /// them, per volume id (volumes that no longer exist are left out), as ascending ranges.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<ChunkRange>> DirtyChunks(ConsistencyGroup group, string consumer)
    {
        catalog.Require(group);
        DirtyChunkSet? set;
        lock (_lock)
        {
            set = LoadDirtySet(group, consumer);
        }
        var result = new Dictionary<string, IReadOnlyList<ChunkRange>>(StringComparer.Ordinal);
        foreach (var volumeId in set?.VolumeIds ?? [])
        {
            if (catalog.FindVolume(volumeId) is { } volume && set!.Ranges(volumeId, volume.Size) is { Count: > 0 } ranges)
            {
                result[volumeId] = ranges;
            }
        }
        return result;
    }

    /// <summary>After a delta resync: the consumer continues from <paramref name="position"/>
    /// (the resync's cut), no longer overrun, and its dirty set is cleared. Durable on return.</summary>
    /// <exception cref="OutOfRangeException">Records after <paramref name="position"/> were released meanwhile: resync again from a newer cut.</exception>
    public void Reset(ConsistencyGroup group, string consumer, long position)
    {
        using (checkpointer.Exclusive())
        {
            catalog.Require(group);
            JournalConsumer registered;
            lock (_lock)
            {
                registered = Registered(group, consumer);
                if (position > group.Journal.LastSequence)
                {
                    throw new ArgumentException($"position {position} is past the journal's newest record {group.Journal.LastSequence}", nameof(position));
                }
                if (position < group.Journal.FirstSequence - 1)
                {
                    throw new OutOfRangeException($"journal '{group}' released records after {position}; the oldest held is {group.Journal.FirstSequence}");
                }
                registered.Position = position;
                registered.Overrun = false;
            }
            checkpointer.CheckpointHeld();
            lock (_lock)
            {
                if (!registered.Overrun)
                {
                    File.Delete(DirtySetPath(group, consumer)); // overrun again inside the checkpoint: keep the superset
                }
            }
        }
    }

    /// <summary>Before records through <paramref name="through"/> are released: merges what the
    /// ones <paramref name="losing"/> consumers had not passed touched into their dirty sets.
    /// Caller holds this lock. Reads the released records once (payloads included: the journal
    /// reader checks every record); only ever on overrun.</summary>
    private void TrackReleased(ConsistencyGroup group, long through, IReadOnlyCollection<JournalConsumer> losing)
    {
        var boundary = group.Journal.ReleaseBoundary(through);
        var losers = losing.Where(c => c.Position < boundary).ToList();
        if (losers.Count == 0)
        {
            return;
        }
        var from = Math.Max(group.Journal.FirstSequence, losers.Min(c => c.Position) + 1);
        var names = catalog.Volumes.ToDictionary(v => v.Number, v => v.Id);
        var touched = new List<(long Sequence, string VolumeId, long First, long Last)>();
        foreach (var (header, payload) in group.Journal.Read(from))
        {
            if (header.Sequence > boundary)
            {
                break;
            }
            CollectTouched(header, payload.Span, names, touched);
        }
        foreach (var consumer in losers)
        {
            var set = LoadDirtySet(group, consumer.Name) ?? new DirtyChunkSet();
            foreach (var (_, volumeId, first, last) in touched.Where(t => t.Sequence > consumer.Position))
            {
                set.Add(volumeId, first, last);
            }
            MetadataFile.Write(DirtySetPath(group, consumer.Name), DirtyChunkSet.FileMagic, set.Serialize());
        }
    }

    private static void CollectTouched(
        in RecordHeader header, ReadOnlySpan<byte> payload, Dictionary<uint, string> names, List<(long, string, long, long)> touched)
    {
        switch (header.Kind)
        {
            case JournalRecordKind.Write or JournalRecordKind.Trim or JournalRecordKind.WriteZeroes:
                Add(header.Sequence, header.VolumeNumber, header.Offset, header.Length, names, touched);
                break;
            case JournalRecordKind.ReplicaBatch when ReplicaBatchRecord.TryParse(payload, out var reader, out _):
                while (reader.TryNext(out var update))
                {
                    if (update.Kind != JournalRecordKind.Resize)
                    {
                        Add(header.Sequence, update.VolumeNumber, update.Offset, update.Length, names, touched);
                    }
                }
                break;
        }

        static void Add(long sequence, uint volume, long offset, long length, Dictionary<uint, string> names, List<(long, string, long, long)> touched)
        {
            if (length > 0 && names.TryGetValue(volume, out var id))
            {
                touched.Add((sequence, id, offset / ChunkRange.ChunkSize, (offset + length - 1) / ChunkRange.ChunkSize));
            }
        }
    }

    private DirtyChunkSet? LoadDirtySet(ConsistencyGroup group, string consumer)
    {
        var path = DirtySetPath(group, consumer);
        var payload = MetadataFile.Read(path, DirtyChunkSet.FileMagic);
        if (payload == null)
        {
            return null;
        }
        return DirtyChunkSet.TryParse(payload, out var set, out var error) ? set : throw new CorruptionException($"{path}: {error}");
    }

    /// <summary>Consumer names that are not valid file names are stored hex-encoded.</summary>
    private string DirtySetPath(ConsistencyGroup group, string consumer) =>
        Path.Combine(catalog.JournalDirectory, group.JournalName, "dirty-" + (VolumeIds.IsValid(consumer) ? consumer : Convert.ToHexStringLower(System.Text.Encoding.UTF8.GetBytes(consumer))));
}
