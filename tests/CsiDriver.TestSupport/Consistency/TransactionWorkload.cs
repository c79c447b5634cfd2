using CsiDriver.Engine;

namespace CsiDriver.TestSupport.Consistency;

/// <summary>
/// A writer that keeps a cross-volume invariant: transaction n is written to the primary device,
/// and only once that write is acknowledged is its mirror written to the mirror device. Any
/// state the two devices really pass through therefore has the mirror at most equal to the
/// primary, never ahead; a copy of both that shows the mirror ahead was not taken at one
/// point in time. One transaction is in flight at a time, so the order is the only thing the
/// devices have to keep.
/// </summary>
public sealed class TransactionWorkload
{
    private readonly IBlockDevice _primary;
    private readonly IBlockDevice _mirror;
    private readonly TransactionLayout _layout;
    private long _committed;

    public TransactionWorkload(IBlockDevice primary, IBlockDevice mirror, TransactionLayout layout)
    {
        layout.RequireFits(primary);
        layout.RequireFits(mirror);
        _primary = primary;
        _mirror = mirror;
        _layout = layout;
    }

    /// <summary>The newest transaction whose both halves were acknowledged.</summary>
    public long Committed => Interlocked.Read(ref _committed);

    /// <summary>
    /// Runs transactions <see cref="Committed"/> + 1, + 2, … until <see cref="Committed"/> reaches
    /// <paramref name="maxTransactions"/>, <paramref name="maxDuration"/> has passed, or
    /// <paramref name="cancellationToken"/> fires (a stop, not an error: the method returns).
    /// Returns <see cref="Committed"/>. A stop lands between transactions (the writes themselves
    /// are not cancelled), so a stopped workload leaves both halves of every transaction it began.
    /// A later call continues where this one stopped; one call at a time.
    /// </summary>
    /// <param name="pace">One transaction per pace at most (a steady load), or zero to run flat out.</param>
    public async Task<long> RunAsync(long maxTransactions, TimeSpan maxDuration, TimeSpan pace = default, CancellationToken cancellationToken = default)
    {
        var block = new byte[TransactionRecord.Size];
        var steady = new SteadyPace(pace);
        try
        {
            for (var n = Committed + 1; n <= maxTransactions && steady.Elapsed < maxDuration && !cancellationToken.IsCancellationRequested; n++)
            {
                await Task.Delay(steady.UntilDue, cancellationToken);
                steady.Step();
                new TransactionRecord(TransactionSide.Primary, n).Write(block);
                await _primary.WriteAsync(_layout.OffsetOf(n), block, fua: false, CancellationToken.None);
                new TransactionRecord(TransactionSide.Mirror, n).Write(block);
                await _mirror.WriteAsync(_layout.OffsetOf(n), block, fua: false, CancellationToken.None);
                Interlocked.Exchange(ref _committed, n);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        return Committed;
    }
}
