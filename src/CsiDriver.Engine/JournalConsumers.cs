using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Metadata;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Engine;

/// <summary>
/// Readers of the groups' journals (the replication shipper). A consumer registered on a group
/// has the records after its position kept for it, within the group's retention budget; past
/// the budget, records it had not passed are released anyway, it is marked overrun, and what
/// they touched goes into its dirty-chunk set (JournalConsumers.DirtyChunks.cs) for a delta resync.
/// <para>State: per group, its consumers and retention budget (held on the group, so they end
/// with it), and the dirty-chunk sets beside each journal. Positions are made durable by the
/// checkpoint that follows (<see cref="Entries"/>); registering and resetting are durable on return.</para>
/// <para>Lock: its own, a leaf: nothing is taken under it but the journal's own locks, so it
/// may be taken under any other (the checkpointer's retention takes it, as do status readers).</para>
/// </summary>
internal sealed partial class JournalConsumers(
    Catalog catalog, Checkpointer checkpointer, EngineOptions options, ILogger logger, Action<RetentionBudgetExceededEventArgs> overrun)
{
    /// <summary>Retention releases whole segments, so no segment is made smaller than this for a small budget.</summary>
    private const long MinimumSegmentBytes = 256 << 10;

    private readonly object _lock = new();

    /// <summary>On open: the consumers the last checkpoint recorded, each overrun if its dirty
    /// set exists (see the dirty sets' invariant).</summary>
    public void Restore(CheckpointDocument checkpoint)
    {
        var entries = checkpoint.Journals.ToDictionary(j => j.Journal, StringComparer.Ordinal);
        lock (_lock)
        {
            foreach (var group in catalog.Groups)
            {
                foreach (var consumer in entries.GetValueOrDefault(group.JournalName)?.Consumers ?? [])
                {
                    group.Consumers[consumer.Name] = new JournalConsumer(consumer.Name, consumer.Position)
                    {
                        Saved = true,
                        Overrun = consumer.Overrun || File.Exists(DirtySetPath(group, consumer.Name)),
                    };
                }
            }
        }
    }

    /// <summary>Registers a reader of the journal; records after <paramref name="position"/>
    /// (default: the newest now) are kept for it. Registering again returns the existing one,
    /// without the checkpoint lock (a shipper registers at every connect, and a checkpoint
    /// writing back a large backlog would hold up its catch-up). Durable on return.</summary>
    public JournalConsumer Register(ConsistencyGroup group, string consumer, long? position)
    {
        catalog.Require(group);
        lock (_lock)
        {
            if (group.Consumers.TryGetValue(consumer, out var known) && known.Saved)
            {
                return known; // one registered just now is durable only after its checkpoint: wait for it below
            }
        }
        using (checkpointer.Exclusive())
        {
            catalog.Require(group);
            JournalConsumer? registered;
            lock (_lock)
            {
                if (!group.Consumers.TryGetValue(consumer, out registered))
                {
                    registered = new JournalConsumer(consumer, Math.Max(position ?? group.Journal.LastSequence, group.Journal.FirstSequence - 1));
                    group.Consumers[consumer] = registered;
                }
                else if (registered.Saved)
                {
                    return registered;
                }
            }
            checkpointer.CheckpointHeld();
            lock (_lock)
            {
                registered.Saved = true;
            }
            return registered;
        }
    }

    /// <summary>Records that the consumer has passed <paramref name="sequence"/>; the records
    /// up to it may be released. Kept durably at the next checkpoint.</summary>
    public void Advance(ConsistencyGroup group, string consumer, long sequence)
    {
        catalog.Require(group);
        lock (_lock)
        {
            var registered = Registered(group, consumer);
            registered.Position = Math.Max(registered.Position, sequence);
        }
    }

    /// <summary>Forgets the consumer and its dirty set; false when it was not registered. Under
    /// the checkpoint lock, as a group only ends under it: its directory cannot go meanwhile.</summary>
    public bool Remove(ConsistencyGroup group, string consumer)
    {
        using (checkpointer.Exclusive())
        {
            catalog.Require(group);
            lock (_lock)
            {
                File.Delete(DirtySetPath(group, consumer));
                return group.Consumers.Remove(consumer);
            }
        }
    }

    /// <summary>Sets how many bytes the journal may retain for consumers that lag (null: the
    /// engine's default); the next checkpoint applies it. Not persisted: the consumer's owner
    /// sets it again when it starts.</summary>
    public void SetRetentionBudget(ConsistencyGroup group, long? bytes)
    {
        if (bytes is <= 0)
        {
            throw new OutOfRangeException($"retention budget {bytes} must be positive");
        }
        catalog.Require(group);
        lock (_lock)
        {
            group.RetentionBudgetBytes = bytes;
        }
        lock (group.Gate)
        {
            // Retention releases whole segments, and checkpoints release: a budget is only
            // honoured when several segments fit in it (see Checkpointer.Due for the other half).
            group.Journal.SegmentBytes = Math.Min(options.SegmentBytes, Math.Max(MinimumSegmentBytes, RetentionBudgetOf(group) / 4));
        }
    }

    public long RetentionBudgetOf(ConsistencyGroup group)
    {
        lock (_lock)
        {
            return group.RetentionBudgetBytes ?? options.RetentionBudgetBytes;
        }
    }

    /// <summary>The journal's records from <paramref name="fromSequence"/> to the newest now, in order, read lazily,
    /// each with its own copy of the payload, or with none when <paramref name="payloads"/> is false (a
    /// caller that plans from what changed, not from the data, copies no record's bytes).</summary>
    /// <exception cref="OutOfRangeException">Those records were released.</exception>
    public IEnumerable<JournalRecord> Read(ConsistencyGroup group, long fromSequence, bool payloads = true)
    {
        var volumeIdOf = catalog.VolumeIdLookup();
        return catalog.Require(group).Journal.Read(fromSequence)
            .Select(r => JournalRecord.Of(r.Header, volumeIdOf(r.Header.VolumeNumber), payloads ? r.Payload : ReadOnlyMemory<byte>.Empty));
    }

    /// <summary>A resumable reader of the journal's records from <paramref name="fromSequence"/> on (see <see cref="JournalReader"/>).</summary>
    /// <exception cref="OutOfRangeException">Those records were released.</exception>
    public JournalReader OpenReader(ConsistencyGroup group, long fromSequence) =>
        new(new JournalCursor(catalog.Require(group).Journal, fromSequence), catalog.VolumeIdLookup());

    public JournalStatus Status(ConsistencyGroup group)
    {
        var members = catalog.MemberIds(group);
        JournalConsumer[] consumers;
        lock (_lock)
        {
            consumers = group.Consumers.Values.Select(c => new JournalConsumer(c.Name, c.Position) { Overrun = c.Overrun }).ToArray();
        }
        return new JournalStatus(
            group,
            members,
            group.Journal.FirstSequence,
            group.Journal.LastSequence,
            group.Commit.DurableSequence,
            group.CheckpointSequence,
            group.Journal.RetainedBytes,
            group.Journal.ReservedBytes,
            RetentionBudgetOf(group),
            consumers);
    }

    /// <summary>What the checkpoint records of the group's consumers.</summary>
    public List<ConsumerEntry> Entries(ConsistencyGroup group)
    {
        lock (_lock)
        {
            return group.Consumers.Values.Select(c => new ConsumerEntry(c.Name, c.Position, c.Overrun)).ToList();
        }
    }

    /// <summary>After a checkpoint (the checkpointer calls it): releases journal segments nobody
    /// needs: not recovery (before the checkpoint) and not a consumer (before its position). Past
    /// the budget, segments the checkpoint has passed go even if a consumer still needed them;
    /// that consumer is marked overrun, and what the released records touched is added to its
    /// dirty-chunk set first. Overruns are reported once the lock is released.
    /// <para>Only the choice is made under this lock: the segments are taken out of the journal
    /// there (so no consumer or reader can reach them afterwards, and a reset sees the journal's
    /// new start), and their files are recycled after it is released. The ack path
    /// (<see cref="Advance"/>) takes this lock for every shipped batch; with the renames,
    /// directory sync and deletes inside it, acks waited 150–200 ms at every checkpoint. Nothing
    /// the file work does depends on the consumers: it only ever touches segments already out of
    /// the journal, every record in them at or below the floor, itself at or below the durable
    /// checkpoint just recorded, or (past the budget) already in the losers' dirty sets.</para></summary>
    public void ApplyRetention(ConsistencyGroup group)
    {
        var overruns = new List<RetentionBudgetExceededEventArgs>();
        lock (_lock)
        {
            var floor = group.Consumers.Values.Where(c => !c.Overrun)
                .Aggregate(group.CheckpointSequence, (min, c) => Math.Min(min, c.Position));
            TrackReleased(group, floor, group.Consumers.Values.Where(c => c.Overrun).ToList());
            group.Journal.ReleaseThrough(floor);
            var budget = RetentionBudgetOf(group);
            if (group.Journal.RetainedBytes > budget)
            {
                var released = group.Journal.ReleasePointForBudget(budget, group.CheckpointSequence);
                TrackReleased(group, released, group.Consumers.Values.Where(c => c.Overrun || c.Position < released).ToList());
                group.Journal.ReleaseThrough(released);
                foreach (var consumer in group.Consumers.Values.Where(c => !c.Overrun && c.Position < released))
                {
                    consumer.Overrun = true;
                    EngineLog.ConsumerOverrun(logger, group.JournalName, budget, consumer.Name, consumer.Position, released);
                    overruns.Add(new RetentionBudgetExceededEventArgs(group, consumer.Name, consumer.Position, released));
                }
            }
        }
        group.Journal.RecycleReleased();
        overruns.ForEach(overrun);
    }

    private static JournalConsumer Registered(ConsistencyGroup group, string consumer) =>
        group.Consumers.GetValueOrDefault(consumer)
        ?? throw new ArgumentException($"no consumer '{consumer}' on journal '{group}'", nameof(consumer));
}
