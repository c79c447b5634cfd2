namespace CsiDriver.Engine.Journal;

/// <summary>
/// Group commit: FLUSH and FUA waiters share syncs. A waiter whose record is not yet durable
/// joins the sync in flight, or starts one; a sync covers every record appended before it
/// started, so under load one fdatasync acknowledges many waiters.
/// </summary>
internal sealed class GroupCommit(GroupJournal journal)
{
    private readonly object _gate = new();
    private long _durable;
    private Task? _inFlight;

    /// <summary>Newest sequence known durable.</summary>
    public long DurableSequence => Volatile.Read(ref _durable);

    public ValueTask WaitDurableAsync(long sequence) =>
        DurableSequence >= sequence ? ValueTask.CompletedTask : WaitSlowAsync(sequence);

    /// <summary>Marks <paramref name="sequence"/> durable without a sync (recovery, after a checkpoint).</summary>
    public void MarkDurable(long sequence)
    {
        lock (_gate)
        {
            _durable = Math.Max(_durable, sequence);
        }
    }

    private async ValueTask WaitSlowAsync(long sequence)
    {
        while (true)
        {
            Task sync;
            lock (_gate)
            {
                if (_durable >= sequence)
                {
                    return;
                }
                sync = _inFlight ??= Task.Run(SyncOnce);
            }
            await sync.ConfigureAwait(false);
        }
    }

    private void SyncOnce()
    {
        try
        {
            var target = journal.LastSequence;
            journal.Sync();
            lock (_gate)
            {
                _durable = Math.Max(_durable, target);
            }
        }
        finally
        {
            lock (_gate)
            {
                _inFlight = null;
            }
        }
    }
}
