namespace CsiDriver.Engine.Journal;

/// <summary>
/// Group commit: FLUSH and FUA waiters share syncs. A waiter whose record is not yet durable
/// joins the sync in flight, or runs one itself, on its own thread; a sync covers every record
/// appended before it started, so under load one fdatasync acknowledges many waiters.
/// A sync never waits for a thread-pool thread: a caller holding a lock while it waits for
/// durability (a snapshot holds the engine's structure lock) must not depend on a pool that
/// callers blocked on that lock may have exhausted.
/// The thread that ran a sync then calls <paramref name="afterCommit"/> (the group's overlay
/// applies what became durable), after the waiters were released, telling it whether that
/// thread may apply them itself (a FLUSH's or a writer's may; the overlay's background sync
/// hands them to its background apply, so the next sync runs meanwhile).
/// </summary>
internal sealed class GroupCommit(GroupJournal journal, Action<bool> afterCommit)
{
    private readonly object _gate = new();
    private long _durable;
    private TaskCompletionSource? _inFlight;

    /// <summary>Newest sequence known durable.</summary>
    public long DurableSequence => Volatile.Read(ref _durable);

    /// <param name="applyHere">As for <see cref="WaitDurable"/>.</param>
    public ValueTask WaitDurableAsync(long sequence, bool applyHere = true) =>
        DurableSequence >= sequence ? ValueTask.CompletedTask : WaitSlowAsync(sequence, applyHere);

    /// <summary>Returns once <paramref name="sequence"/> is durable, blocking this thread.</summary>
    /// <param name="applyHere">Whether a sync this thread runs may be followed by the apply on it.</param>
    public void WaitDurable(long sequence, bool applyHere = true)
    {
        while (Join(sequence, applyHere) is { } joined)
        {
            joined.GetAwaiter().GetResult();
        }
    }

    /// <summary>Marks <paramref name="sequence"/> durable without a sync (recovery, after a checkpoint).</summary>
    public void MarkDurable(long sequence)
    {
        lock (_gate)
        {
            _durable = Math.Max(_durable, sequence);
        }
    }

    private async ValueTask WaitSlowAsync(long sequence, bool applyHere)
    {
        while (Join(sequence, applyHere) is { } joined)
        {
            await joined.ConfigureAwait(false);
        }
    }

    /// <summary>Null once <paramref name="sequence"/> is durable; else the sync in flight to wait
    /// for, or, when none was, a completed task after running one on this thread.</summary>
    private Task? Join(long sequence, bool applyHere)
    {
        TaskCompletionSource sync;
        lock (_gate)
        {
            if (_durable >= sequence)
            {
                return null;
            }
            if (_inFlight is not null)
            {
                return _inFlight.Task;
            }
            sync = _inFlight = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        SyncOnce(sync);
        afterCommit(applyHere);
        return Task.CompletedTask;
    }

    private void SyncOnce(TaskCompletionSource sync)
    {
        try
        {
            var target = journal.LastSequence;
            journal.Sync();
            lock (_gate)
            {
                _durable = Math.Max(_durable, target);
                _inFlight = null;
            }
        }
        catch (Exception e)
        {
            lock (_gate)
            {
                _inFlight = null;
            }
            sync.SetException(e);
            throw;
        }
        sync.SetResult();
    }
}
