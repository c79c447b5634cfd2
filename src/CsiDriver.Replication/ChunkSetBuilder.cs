using CsiDriver.Engine;
using CsiDriver.Engine.Journal;

namespace CsiDriver.Replication;

/// <summary>
/// Which whole chunks of which volumes a resync must ship: the union of chunk ranges from the
/// engine (allocated, changed or dirty chunks) and of the chunks journal records touched.
/// </summary>
public sealed class ChunkSetBuilder
{
    private readonly Dictionary<string, SortedSet<long>> _chunks = new(StringComparer.Ordinal);

    /// <summary>A record this set cannot express (an unknown kind): everything must be shipped.</summary>
    public bool NeedsEverything { get; private set; }

    public IReadOnlyCollection<string> VolumeIds => _chunks.Keys;

    /// <summary>Used when what changed cannot be known: the resync ships every allocated chunk.</summary>
    public void MarkEverything() => NeedsEverything = true;

    public long Count => _chunks.Values.Sum(s => (long)s.Count);

    public void Add(string volumeId, ChunkRange range) => AddBytes(volumeId, range.Offset, range.Length);

    public void Add(string volumeId, IEnumerable<ChunkRange> ranges)
    {
        foreach (var range in ranges)
        {
            Add(volumeId, range);
        }
    }

    /// <summary>Adds the chunks a journal record of one of <paramref name="volumeIds"/> touched.</summary>
    public void Add(JournalRecord record, IReadOnlySet<string> volumeIds)
    {
        if (record.VolumeId is null || !volumeIds.Contains(record.VolumeId))
        {
            return;
        }
        switch (record.Kind)
        {
            case JournalRecordKind.Write or JournalRecordKind.Trim or JournalRecordKind.WriteZeroes:
                AddBytes(record.VolumeId, record.Offset, record.Length);
                break;
            case JournalRecordKind.Barrier or JournalRecordKind.Snapshot or JournalRecordKind.Resize:
                // No data changed (a resize is carried by the resync's sizes).
                break;
            default:
                NeedsEverything = true;
                break;
        }
    }

    public void UnionWith(ChunkSetBuilder other)
    {
        NeedsEverything |= other.NeedsEverything;
        foreach (var (volumeId, chunks) in other._chunks)
        {
            Chunks(volumeId).UnionWith(chunks);
        }
    }

    /// <summary>The volume's chunks as ascending merged ranges, clipped to <paramref name="sizeBytes"/>.</summary>
    public IReadOnlyList<ChunkRange> Ranges(string volumeId, long sizeBytes)
    {
        var ranges = new List<ChunkRange>();
        if (!_chunks.TryGetValue(volumeId, out var chunks))
        {
            return ranges;
        }
        long start = -1, end = -1;
        foreach (var chunk in chunks)
        {
            if (chunk * ChunkRange.ChunkSize >= sizeBytes)
            {
                break;
            }
            if (chunk != end)
            {
                AddRange(start, end);
                start = chunk;
            }
            end = chunk + 1;
        }
        AddRange(start, end);
        return ranges;

        void AddRange(long first, long pastLast)
        {
            if (first >= 0)
            {
                var offset = first * ChunkRange.ChunkSize;
                ranges.Add(new ChunkRange(offset, Math.Min(pastLast * ChunkRange.ChunkSize, sizeBytes) - offset));
            }
        }
    }

    private void AddBytes(string volumeId, long offset, long length)
    {
        if (length <= 0)
        {
            return;
        }
        var set = Chunks(volumeId);
        for (var chunk = offset / ChunkRange.ChunkSize; chunk <= (offset + length - 1) / ChunkRange.ChunkSize; chunk++)
        {
            set.Add(chunk);
        }
    }

    private SortedSet<long> Chunks(string volumeId)
    {
        if (!_chunks.TryGetValue(volumeId, out var set))
        {
            set = [];
            _chunks[volumeId] = set;
        }
        return set;
    }
}
