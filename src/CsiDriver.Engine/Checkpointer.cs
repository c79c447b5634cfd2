using System.Diagnostics;
using CsiDriver.Engine.Metadata;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Engine;

/// <summary>
/// Checkpoints: make the data files reflect the journals durably up to a cut, so the journals
/// before it are no longer needed for recovery, then release what nobody needs any more. Taken
/// in the background when due, and on the way by the operations that need one.
/// <para>State: the <c>checkpoint</c> file (<see cref="CheckpointDocument"/>; on-disk invariant
/// there) and the background loop. What it covers it reads from the catalog (the cut) and the
/// journal consumers (their positions); both are bound when the engine has recovered.</para>
/// <para>Lock: the checkpoint lock, so checkpoints never overlap and a later one always names a
/// later cut. It comes first in the engine's lock order: taken before the catalog's structure
/// lock, never while holding it. An operation that needs a checkpoint inside a structural change
/// enters <see cref="Exclusive"/> first and calls <see cref="CheckpointHeld"/> under it.</para>
/// </summary>
internal sealed class Checkpointer(string dataDirectory, EngineOptions options, ILogger logger)
{
    private readonly object _lock = new();
    private readonly string _path = Path.Combine(dataDirectory, "checkpoint");
    private Catalog? _catalog;
    private JournalConsumers? _consumers;
    private CancellationTokenSource? _stop;
    private Task? _loop;

    /// <summary>The last checkpoint written (empty when none was): where recovery starts.</summary>
    /// <exception cref="CorruptionException">The file is unreadable.</exception>
    public CheckpointDocument Read()
    {
        var payload = MetadataFile.Read(_path, CheckpointDocument.FileMagic, CheckpointDocument.Version);
        return payload == null ? new CheckpointDocument() : CheckpointDocument.Parse(payload, _path);
    }

    /// <summary>What checkpoints cover from now on; set once, when the engine has recovered.</summary>
    public void Bind(Catalog catalog, JournalConsumers consumers)
    {
        _catalog = catalog;
        _consumers = consumers;
    }

    /// <summary>The checkpoint lock, for a change that needs a checkpoint on the way.</summary>
    public Held Exclusive() => new(_lock);

    public void Checkpoint()
    {
        using (Exclusive())
        {
            CheckpointHeld();
        }
    }

    /// <summary>
    /// The checkpoint itself, under <see cref="Exclusive"/>: commit the writes held in the groups'
    /// overlays (so the cut covers them), pause every group for a moment to read the sequence
    /// its data files reflect and copy the changed chunk maps (<see cref="Catalog.TakeCut"/>), then,
    /// writers and structural operations running again, sync the changed data files, write the
    /// maps, sync the journals, and finally write the checkpoint file naming the cut. Journal
    /// segments wholly before the cut and before every consumer's position are then released.
    /// </summary>
    /// <exception cref="InsufficientSpaceException">No space to write a map or the checkpoint; the
    /// previous checkpoint stands and the next one writes what this one could not.</exception>
    public void CheckpointHeld()
    {
        if (!Monitor.IsEntered(_lock))
        {
            throw new InvalidOperationException("a checkpoint runs under the checkpoint lock (Checkpointer.Exclusive)");
        }
        var (catalog, consumers) = (_catalog!, _consumers!);
        CommitOverlays();
        if (catalog.TakeCut() is not { } cut)
        {
            return;
        }
        try
        {
            foreach (var layer in cut.Data)
            {
                Native.DataSync(layer.Handle);
            }
            foreach (var (layer, bits) in cut.Maps)
            {
                MetadataFile.Write(layer.MapPath, Layers.ChunkMap.FileMagic, bits);
            }
        }
        catch
        {
            // The marks were cleared when the cut was taken. The next checkpoint names a later
            // cut, after which these records are never replayed again, so it must sync and
            // write what this one could not: the checkpoint file only ever follows every data
            // file and chunk map it covers.
            foreach (var (layer, _) in cut.Maps)
            {
                layer.Map.MarkDirty();
            }
            foreach (var layer in cut.Data)
            {
                layer.DataDirty = true;
            }
            throw;
        }
        // The journals up to the cut stay readable after a crash for consumers that have not
        // passed them yet (replication ships from the journal, not from the data files).
        foreach (var point in cut.Groups)
        {
            point.Group.Journal.Sync();
        }
        var document = new CheckpointDocument
        {
            Journals = cut.Groups.Select(p => new CheckpointEntry(p.Group.JournalName, p.Sequence, consumers.Entries(p.Group), p.Replica)).ToList(),
        };
        MetadataFile.Write(_path, CheckpointDocument.FileMagic, document.Serialize(), CheckpointDocument.Version, document.MinCompatibleVersion);
        // Groups end only under this lock (see Catalog), so those cut are still here unless this
        // checkpoint runs inside the change that ends one.
        foreach (var point in cut.Groups.Where(p => catalog.IsLive(p.Group)))
        {
            point.Group.CheckpointSequence = point.Sequence;
            point.Group.AppendedAtCheckpoint = point.Appended;
            point.Group.Commit.MarkDurable(point.Sequence);
            consumers.ApplyRetention(point.Group);
        }
        EngineLog.CheckpointWritten(logger, cut.Groups.Count, cut.Data.Count, cut.Maps.Count, cut.PauseMicros);
    }

    /// <summary>Starts the background loop (unless the options turn it off): a checkpoint when
    /// one is due, writeback of dirty data files started in between.</summary>
    public void Start()
    {
        if (!options.BackgroundCheckpoints)
        {
            return;
        }
        _stop = new CancellationTokenSource();
        var stop = _stop.Token;
        _loop = Task.Run(async () =>
        {
            var last = Stopwatch.GetTimestamp();
            var deferred = false;
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                if (!Due(Stopwatch.GetElapsedTime(last)))
                {
                    CommitOverlays();
                    StartDataWriteback();
                }
                else
                {
                    try
                    {
                        Checkpoint();
                        deferred = false;
                    }
                    catch (InsufficientSpaceException e)
                    {
                        // Retried while the disk stays full (the journals keep everything): said once.
                        if (!deferred)
                        {
                            EngineLog.CheckpointDeferred(logger, e.Message);
                        }
                        deferred = true;
                    }
                    catch (Exception e) when (e is IOException or CorruptionException or UnauthorizedAccessException)
                    {
                        EngineLog.CheckpointFailed(logger, e);
                    }
                    last = Stopwatch.GetTimestamp();
                }
            }
        }, CancellationToken.None);
    }

    public void Stop()
    {
        _stop?.Cancel();
        _loop?.Wait();
        _stop?.Dispose();
        _stop = null;
        _loop = null;
    }

    /// <summary>Writes held in the groups' overlays become durable and reach the data files: at
    /// every turn of the background loop (so they wait at most its period, FLUSH or not) and
    /// before a cut. A group whose data files have no space keeps its writes pending (durable,
    /// readable); the cut then stops before them and the writers are told when the overlay fills.</summary>
    private void CommitOverlays()
    {
        foreach (var group in _catalog!.Groups.Where(g => !g.Overlay.IsEmpty))
        {
            try
            {
                group.Overlay.Commit();
            }
            catch (Exception e) when (e is InsufficientSpaceException or IOException or ObjectDisposedException)
            {
                // as above; a closed journal (the engine stopping) has nothing to commit
            }
        }
    }

    /// <summary>Between checkpoints the data files' dirty pages go to disk a little at a time
    /// (writeback started, not waited for): otherwise a checkpoint's fdatasync writes everything
    /// since the last one in one burst, and every journal sync on the same disk (a FLUSH, a FUA
    /// write, a replica batch) waits behind it. A hint only: durability is still the checkpoint's.</summary>
    private void StartDataWriteback()
    {
        foreach (var layer in _catalog!.DirtyLayers())
        {
            try
            {
                Native.StartWriteback(layer.Handle);
            }
            catch (Exception e) when (e is ObjectDisposedException or IOException)
            {
                // The layer was deleted meanwhile, or the file system declined: nothing to hurry.
            }
        }
    }

    /// <summary>A checkpoint is due when a journal grew past the recovery bound since the last
    /// one (or past a quarter of its retention budget: only checkpoints release segments), or
    /// the interval passed and anything was written.</summary>
    private bool Due(TimeSpan sinceLast) =>
        _catalog!.Groups.Any(g =>
        {
            var grown = g.Journal.AppendedBytes - g.AppendedAtCheckpoint;
            return grown >= Math.Min(options.CheckpointJournalBytes, _consumers!.RetentionBudgetOf(g) / 4)
                || (grown > 0 && sinceLast >= options.CheckpointInterval);
        });
}
