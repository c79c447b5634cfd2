using System.Text;
using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Layers;
using CsiDriver.Engine.Metadata;

namespace CsiDriver.Engine;

internal sealed partial class Catalog
{
    /// <summary>Creates an empty thin volume, in the named consistency group (created on first
    /// use) or, with null, in a group of its own; <paramref name="prepare"/> finishes it before
    /// the one catalog write that makes it durable.</summary>
    public Volume CreateVolume(string volumeId, long capacityBytes, string? consistencyGroup, Action<Volume>? prepare = null)
    {
        CheckNewVolume(volumeId, capacityBytes, consistencyGroup);
        lock (_lock)
        {
            CheckVolumeAbsent(volumeId);
            return AddVolume(volumeId, capacityBytes, consistencyGroup, parent: null, prepare);
        }
    }

    /// <summary>Deletes the volume; returns false when it did not exist (deleting what is gone
    /// succeeds). Its snapshots stay readable: they hold their own frozen layers, and layers
    /// the volume shared with them are released only once nothing refers to them.</summary>
    public bool DeleteVolume(string volumeId)
    {
        using (_checkpointer.Exclusive())
        lock (_lock)
        {
            if (!_volumes.TryGetValue(volumeId, out var volume))
            {
                SaveIfOwed(); // a retry of a delete whose save failed completes it
                return false;
            }
            // Once the volume is gone its journal records are no longer replayed, so the layers
            // it leaves to its snapshots and clones must be durable first. Before anything
            // changes: a disk too full for the checkpoint refuses the delete whole. Writes after
            // the cut land only in the top layer, which goes with the volume.
            _checkpointer.CheckpointHeld();
            var group = volume.Group;
            // Not drained: its writes still waiting are dropped, not applied (they would only
            // reach the top layer, which goes with it).
            using (new GroupPause([group], drain: false))
            {
                volume.MarkDeleted();
                group.Members.Remove(volume);
                group.Overlay.Forget(volume);
            }
            _volumes.TryRemove(volumeId, out _);
            var top = volume.Top;
            top.Owner = null;
            var dropped = Unlink(top);
            if (group.Name == null)
            {
                _groups.TryRemove(group.JournalName, out _);
            }
            // From here the volume is gone (writes to it are refused). Should the save fail, the
            // catalog on disk still names it and its files stay until a save succeeds: the
            // caller's retry (see above), any later change, or the next checkpoint. A restart
            // before that finds the volume whole, and the retry deletes it then.
            Save(() =>
            {
                dropped.ForEach(layer => layer.DeleteFiles());
                if (group.Name == null)
                {
                    group.Journal.Delete();
                }
            });
            CompactHidden();
            return true;
        }
    }

    /// <summary>Grows the volume to <paramref name="newCapacityBytes"/>; never shrinks; the size it
    /// has already settles a save a failed expand left owed. A read-only volume (a replica, a
    /// fenced primary's) is refused: its size follows the site that writes it.</summary>
    /// <exception cref="InsufficientSpaceException">No space for the catalog. The volume is grown
    /// all the same (see below); the same call once there is room completes.</exception>
    public void ExpandVolume(string volumeId, long newCapacityBytes)
    {
        CheckCapacity(newCapacityBytes);
        lock (_lock)
        {
            var volume = GetVolume(volumeId);
            if (volume.IsReadOnly)
            {
                throw new ReadOnlyVolumeException(volumeId, volume.ReadOnlyReason);
            }
            if (newCapacityBytes < volume.Size)
            {
                throw new OutOfRangeException($"volume '{volumeId}' is {volume.Size} bytes; shrinking to {newCapacityBytes} is not supported");
            }
            if (newCapacityBytes == volume.Size)
            {
                SaveIfOwed(); // a retry of an expand whose save failed completes it
                return;
            }
            // The catalog is saved inside the pause: no write past the old end may reach the
            // journal before the new size is durable.
            using var pause = new GroupPause([volume.Group]);
            var journal = volume.Group.Journal;
            var resize = journal.Append(JournalRecordKind.Resize, volume.Number, 0, newCapacityBytes, ReadOnlyMemory<byte>.Empty, journal.NowMicros());
            // The record is the change, and it cannot be taken back: replay grows the volume by it
            // and shipping carries it to the backup, and neither ever shrinks one. So it is
            // durable before a catalog names the new size (a power cut could otherwise keep the
            // size and lose the record, and the backup would never grow), and a failed save
            // leaves the volume grown, with the save owed: a checkpoint makes it before it passes
            // the record, and until then a restart grows the volume again by replaying it.
            volume.Group.Commit.WaitDurable(resize); // on this thread, allowed under a pause (see GroupCommit)
            volume.Top.Map.Grow(ChunksFor(newCapacityBytes));
            volume.Top.SizeBytes = newCapacityBytes;
            volume.SetSize(newCapacityBytes);
            Save();
        }
    }

    /// <summary>Makes the volume refuse (or accept again) writes: replicas at the backup site
    /// are read-only to everyone but the applier. Once it returns no write is in progress and
    /// every later one is refused (the group is paused while the flag changes), the flag durable;
    /// <paramref name="reason"/> is what refused writers are told.</summary>
    public void SetReadOnly(string volumeId, bool readOnly, string? reason = null)
    {
        lock (_lock)
        {
            var volume = GetVolume(volumeId);
            var (wasReadOnly, wasReason) = (volume.IsReadOnly, volume.ReadOnlyReason);
            using var pause = new GroupPause([volume.Group]);
            volume.SetReadOnly(readOnly, reason);
            // A failed save takes back only a volume made writable again. Refusing writes holds
            // even when the disk is too full to record it: taking it back would let through the
            // writes a fence stops, and whoever made the volume read-only says so again at the
            // next start (the flag on disk is only the default until then).
            SaveOrUndo(() =>
            {
                if (!readOnly)
                {
                    volume.SetReadOnly(wasReadOnly, wasReason);
                }
            });
        }
    }

    /// <summary>
    /// Moves a volume into the named group (created on first use), or with null into a group
    /// of its own. Order is kept across the move: both groups are paused (in the fixed order),
    /// the volume's data files and chunk maps are synced (so none of its records in the old
    /// journal is needed again), a barrier record is appended to each journal, and the volume
    /// continues in the new one. Its records in the new journal count from the barrier on.
    /// A move that fails (no space for a chunk map or the catalog) is taken back whole: the
    /// volume goes on in its group; the barriers it appended stay, naming a move no catalog
    /// holds (readers of the journal take a barrier only as "the group may have changed here").
    /// </summary>
    public void MoveVolume(string volumeId, string? consistencyGroup)
    {
        ValidateGroupName(consistencyGroup);
        using (_checkpointer.Exclusive())
        lock (_lock)
        {
            var volume = GetVolume(volumeId);
            var source = volume.Group;
            if (source.Name == consistencyGroup)
            {
                return;
            }
            var existing = consistencyGroup == null ? null : _groups.GetValueOrDefault(consistencyGroup);
            var target = GroupFor(consistencyGroup, volume.Number);
            try
            {
                using (new GroupPause([source, target]))
                {
                    for (var layer = volume.Top; layer != null; layer = layer.Parent)
                    {
                        Native.DataSync(layer.Handle);
                        try
                        {
                            MetadataFile.Write(layer.MapPath, ChunkMap.FileMagic, layer.Map.TakeForCheckpoint());
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
                    var (joined, start) = (volume.JoinedSequence, volume.Top.StartSequence);
                    Join(volume, source, target, join, join + 1);
                    // Taken back inside the pause, so no write of the volume reaches the new journal.
                    SaveOrUndo(() => Join(volume, target, source, joined, start));
                }
            }
            catch
            {
                DiscardIfUnused(target, existing);
                throw;
            }
            if (source.Name == null)
            {
                source.Journal.Delete();
            }
        }
    }

    /// <summary>Moves <paramref name="volume"/>'s membership from <paramref name="from"/> to
    /// <paramref name="to"/>: its records count in <paramref name="to"/> after <paramref name="joined"/>,
    /// its top layer's from <paramref name="start"/>. A group of one it leaves ends. Caller has
    /// paused both groups.</summary>
    private void Join(Volume volume, ConsistencyGroup from, ConsistencyGroup to, long joined, long start)
    {
        from.Members.Remove(volume);
        to.Members.Add(volume);
        volume.Group = to;
        volume.JoinedSequence = joined;
        volume.Top.Journal = to.JournalName;
        volume.Top.StartSequence = start;
        if (from.Name == null)
        {
            _groups.TryRemove(from.JournalName, out _);
        }
        _groups[to.JournalName] = to;
    }

    /// <summary>Ends <paramref name="group"/>, with its journal, when a change that failed opened it
    /// (<paramref name="existing"/> is null: it was not there before) and left it empty: no
    /// catalog names it.</summary>
    private void DiscardIfUnused(ConsistencyGroup group, ConsistencyGroup? existing)
    {
        if (existing == null && group.Members.Count == 0)
        {
            _groups.TryRemove(KeyValuePair.Create(group.JournalName, group)); // a group of one taken back is out already
            group.Journal.Delete();
        }
    }

    /// <summary>Adds a volume with a new top layer over <paramref name="parent"/> to its group,
    /// finished by <paramref name="prepare"/> and made durable by one catalog write. When any of
    /// it fails (no space, say) nothing is left of it: no file, no group made for it. Caller
    /// holds this lock.</summary>
    private Volume AddVolume(string volumeId, long capacityBytes, string? consistencyGroup, Layer? parent, Action<Volume>? prepare = null)
    {
        var number = _nextVolumeNumber++;
        var existing = consistencyGroup == null ? null : _groups.GetValueOrDefault(consistencyGroup);
        var group = existing ?? GroupFor(consistencyGroup, number);
        Volume? volume = null;
        try
        {
            var top = NewLayer(parent, capacityBytes);
            volume = new Volume(volumeId, number, capacityBytes, readOnly: false, group, top);
            lock (group.Gate)
            {
                StartTop(volume, top, group);
                volume.JoinedSequence = group.Journal.LastSequence;
                group.Members.Add(volume);
            }
            _volumes[volumeId] = volume;
            prepare?.Invoke(volume);
            Save();
            return volume;
        }
        catch
        {
            if (volume != null)
            {
                Forget(volume);
            }
            DiscardIfUnused(group, existing);
            throw;
        }
    }

    /// <summary>Takes back a volume no catalog on disk names yet, with its top layer's files.</summary>
    private void Forget(Volume volume)
    {
        _volumes.TryRemove(volume.Id, out _);
        using (new GroupPause([volume.Group]))
        {
            volume.MarkDeleted();
            volume.Group.Members.Remove(volume);
        }
        volume.Top.Owner = null;
        Discard(volume.Top);
    }

    /// <summary>Forgets <paramref name="layer"/>, which no catalog on disk names, with its files
    /// (and so on up its chain while nothing refers to a layer, see <see cref="Unlink"/>).</summary>
    private void Discard(Layer layer)
    {
        foreach (var unlinked in Unlink(layer))
        {
            unlinked.Handle.Dispose();
            unlinked.DeleteFiles();
        }
    }

    /// <summary>The named group (opened on first use), or a new group of one for volume <paramref name="number"/>.</summary>
    private ConsistencyGroup GroupFor(string? consistencyGroup, uint number) =>
        consistencyGroup == null
            ? OpenGroup(ConsistencyGroup.SoloJournalName(number), null)
            : _groups.GetValueOrDefault(consistencyGroup) ?? OpenGroup(consistencyGroup, consistencyGroup);

    private ConsistencyGroup OpenGroup(string journalName, string? name) =>
        OpenGroup(journalName, name, 0, static (in RecordHeader _, ReadOnlySpan<byte> _) => { }, out _);

    private ConsistencyGroup OpenGroup(
        string journalName, string? name, long checkpointSequence, GroupJournal.ReplayRecord replay, out JournalRecoveryReport report)
    {
        var journal = GroupJournal.Open(
            Path.Combine(_journalDirectory, journalName), journalName, checkpointSequence, _options.SegmentBytes, _options.Clock, replay, out report);
        var group = new ConsistencyGroup(journalName, name, journal, _options.OverlayBytes);
        group.Commit.MarkDurable(checkpointSequence);
        _groups[journalName] = group;
        return group;
    }

    private static void CheckNewVolume(string volumeId, long capacityBytes, string? consistencyGroup)
    {
        VolumeIds.Validate(volumeId);
        ValidateGroupName(consistencyGroup);
        CheckCapacity(capacityBytes);
    }

    private static void CheckCapacity(long capacityBytes)
    {
        if (capacityBytes <= 0 || capacityBytes % VolumeIds.BlockSize != 0)
        {
            throw new OutOfRangeException($"capacity {capacityBytes} must be a positive multiple of {VolumeIds.BlockSize}");
        }
    }

    private static void ValidateGroupName(string? consistencyGroup)
    {
        if (consistencyGroup != null && !VolumeIds.IsValid(consistencyGroup))
        {
            throw new ArgumentException($"consistency group '{consistencyGroup}' must follow the volume id rules", nameof(consistencyGroup));
        }
    }

    private void CheckVolumeAbsent(string volumeId)
    {
        if (_volumes.ContainsKey(volumeId))
        {
            throw new VolumeExistsException(volumeId);
        }
    }
}
