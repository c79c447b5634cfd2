using System.Text;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Metadata;

namespace CsiDriver.Engine;

public sealed partial class StorageEngine
{
    /// <summary>Raised (on the checkpointing thread) when a journal released records a consumer still needed.</summary>
    public event EventHandler<RetentionBudgetExceededEventArgs>? RetentionBudgetExceeded;

    /// <summary>Names of every journal: named groups' names and groups of one's internal names.</summary>
    public IReadOnlyCollection<string> JournalNames
    {
        get
        {
            lock (_structure)
            {
                return _groups.Keys.ToArray();
            }
        }
    }

    /// <summary>
    /// Moves a volume into the named group (created on first use), or with null into a group
    /// of its own. Order is kept across the move: both groups are paused (in the fixed order),
    /// the volume's data files and chunk maps are synced (so none of its records in the old
    /// journal is needed again), a barrier record is appended to each journal, and the volume
    /// continues in the new one. Its records in the new journal count from the barrier on.
    /// </summary>
    public void MoveVolume(string volumeId, string? consistencyGroup)
    {
        ValidateGroupName(consistencyGroup);
        lock (_checkpointLock)
        lock (_structure)
        {
            var volume = GetVolume(volumeId);
            var source = volume.Group;
            if (source.Name == consistencyGroup)
            {
                return;
            }
            var target = consistencyGroup == null
                ? OpenGroup(ConsistencyGroup.SoloJournalName(volume.Number), null)
                : _groups.GetValueOrDefault(consistencyGroup) ?? OpenGroup(consistencyGroup, consistencyGroup);
            using (new GroupPause([source, target]))
            {
                for (var layer = volume.Top; layer != null; layer = layer.Parent)
                {
                    Native.DataSync(layer.Handle);
                    try
                    {
                        MetadataFile.Write(layer.MapPath, Layers.ChunkMap.FileMagic, layer.Map.TakeForCheckpoint());
                    }
                    catch
                    {
                        // The move is abandoned; the next checkpoint must still write this map.
                        layer.Map.MarkDirty();
                        throw;
                    }
                }
                var now = source.Journal.NowMicros();
                source.Journal.Append(JournalRecordKind.Barrier, volume.Number, 0, 0, Encoding.UTF8.GetBytes("leave " + target.JournalName), now);
                var join = target.Journal.Append(JournalRecordKind.Barrier, volume.Number, 0, 0, Encoding.UTF8.GetBytes("join " + source.JournalName), now);
                source.Members.Remove(volume);
                target.Members.Add(volume);
                volume.Group = target;
                volume.JoinedSequence = join;
                volume.Top.Journal = target.JournalName;
                volume.Top.StartSequence = join + 1;
                if (source.Name == null)
                {
                    _groups.Remove(source.JournalName);
                }
                SaveCatalog();
            }
            if (source.Name == null)
            {
                source.Journal.Delete();
            }
        }
    }

    /// <summary>Registers a reader of the journal; records after <paramref name="position"/>
    /// (default: the newest now) are kept for it. Registering again returns the existing one.</summary>
    public JournalConsumer RegisterJournalConsumer(string journal, string consumer, long? position = null)
    {
        lock (_checkpointLock)
        lock (_structure)
        {
            var group = GetGroup(journal);
            if (!group.Consumers.TryGetValue(consumer, out var registered))
            {
                registered = new JournalConsumer(consumer, Math.Max(position ?? group.Journal.LastSequence, group.Journal.FirstSequence - 1));
                group.Consumers[consumer] = registered;
                CheckpointHeld();
            }
            return registered;
        }
    }

    /// <summary>Records that the consumer has passed <paramref name="sequence"/>; the records
    /// up to it may be released. Kept durably at the next checkpoint.</summary>
    public void AdvanceJournalConsumer(string journal, string consumer, long sequence)
    {
        lock (_structure)
        {
            var registered = GetGroup(journal).Consumers.GetValueOrDefault(consumer)
                ?? throw new ArgumentException($"no consumer '{consumer}' on journal '{journal}'", nameof(consumer));
            registered.Position = Math.Max(registered.Position, sequence);
        }
    }

    /// <summary>Sets how many bytes the journal may retain for consumers that lag (null: the
    /// engine's default); the next checkpoint applies it. Not persisted: the consumer's owner
    /// sets it again when it starts.</summary>
    public void SetJournalRetentionBudget(string journal, long? bytes)
    {
        if (bytes is <= 0)
        {
            throw new OutOfRangeException($"retention budget {bytes} must be positive");
        }
        lock (_structure)
        {
            var group = GetGroup(journal);
            group.RetentionBudgetBytes = bytes;
            lock (group.Gate)
            {
                // Retention releases whole segments, and checkpoints release: a budget is only
                // honoured when several segments fit in it (see CheckpointDue for the other half).
                group.Journal.SegmentBytes = Math.Min(_options.SegmentBytes, Math.Max(MinimumSegmentBytes, RetentionBudgetOf(group) / 4));
            }
        }
    }

    private const long MinimumSegmentBytes = 256 << 10;

    private long RetentionBudgetOf(ConsistencyGroup group) => group.RetentionBudgetBytes ?? _options.RetentionBudgetBytes;

    public bool RemoveJournalConsumer(string journal, string consumer)
    {
        lock (_structure)
        {
            var group = GetGroup(journal);
            File.Delete(DirtySetPath(journal, consumer));
            return group.Consumers.Remove(consumer);
        }
    }

    /// <summary>The journal's records from <paramref name="fromSequence"/> to the newest now, in order, read lazily (each with its own copy of the payload).</summary>
    /// <exception cref="OutOfRangeException">Those records were released.</exception>
    public IEnumerable<JournalRecord> ReadJournal(string journal, long fromSequence)
    {
        var volumeIdOf = VolumeIdLookup();
        return JournalOf(journal).Read(fromSequence).Select(r => JournalRecord.Of(r.Header, volumeIdOf(r.Header.VolumeNumber), r.Payload));
    }

    /// <summary>A resumable reader of the journal's records from <paramref name="fromSequence"/> on (see <see cref="JournalReader"/>).</summary>
    /// <exception cref="OutOfRangeException">Those records were released.</exception>
    public JournalReader OpenJournalReader(string journal, long fromSequence) =>
        new(new JournalCursor(JournalOf(journal), fromSequence), VolumeIdLookup());

    private GroupJournal JournalOf(string journal)
    {
        lock (_structure)
        {
            return GetGroup(journal).Journal;
        }
    }

    /// <summary>Volume ids by number, each looked up when its number first appears (so a volume
    /// created after a reader opened is named too); null for a volume that no longer exists.</summary>
    private Func<uint, string?> VolumeIdLookup()
    {
        var known = new Dictionary<uint, string?>();
        return number =>
        {
            if (!known.TryGetValue(number, out var volumeId))
            {
                volumeId = known[number] = _volumes.Values.FirstOrDefault(v => v.Number == number)?.Id;
            }
            return volumeId;
        };
    }

    public JournalStatus GetJournalStatus(string journal)
    {
        lock (_structure)
        {
            var group = GetGroup(journal);
            return new JournalStatus(
                group.JournalName,
                group.Name,
                group.Members.Select(v => v.Id).ToArray(),
                group.Journal.FirstSequence,
                group.Journal.LastSequence,
                group.Commit.DurableSequence,
                group.CheckpointSequence,
                group.Journal.RetainedBytes,
                group.Journal.ReservedBytes,
                RetentionBudgetOf(group),
                group.Consumers.Values.Select(c => new JournalConsumer(c.Name, c.Position) { Overrun = c.Overrun }).ToArray());
        }
    }

    private ConsistencyGroup GetGroup(string journal) =>
        _groups.GetValueOrDefault(journal) ?? throw new ArgumentException($"no journal '{journal}'", nameof(journal));

    private ConsistencyGroup OpenGroup(string journalName, string? name) =>
        OpenGroup(journalName, name, 0, static (in RecordHeader _, ReadOnlySpan<byte> _) => { }, out _);

    private ConsistencyGroup OpenGroup(
        string journalName, string? name, long checkpointSequence, GroupJournal.ReplayRecord replay, out JournalRecoveryReport report)
    {
        var journal = GroupJournal.Open(
            Path.Combine(_journalDirectory, journalName), journalName, checkpointSequence, _options.SegmentBytes, _options.Clock, replay, out report);
        var group = new ConsistencyGroup(journalName, name, journal);
        group.Commit.MarkDurable(checkpointSequence);
        _groups[journalName] = group;
        return group;
    }
}

/// <summary>A journal's state: what it holds, how far it is durable and checkpointed, who reads it.</summary>
/// <param name="FirstSequence">Oldest record held (or the next to come when none is).</param>
/// <param name="ReservedBytes">Free space the journal has set aside to fill its segment and start the next.</param>
public sealed record JournalStatus(
    string Journal,
    string? ConsistencyGroup,
    IReadOnlyList<string> VolumeIds,
    long FirstSequence,
    long LastSequence,
    long DurableSequence,
    long CheckpointSequence,
    long RetainedBytes,
    long ReservedBytes,
    long RetentionBudgetBytes,
    IReadOnlyList<JournalConsumer> Consumers)
{
    public bool OverBudget => RetainedBytes > RetentionBudgetBytes;
}
