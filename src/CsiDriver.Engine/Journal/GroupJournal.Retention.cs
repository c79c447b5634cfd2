namespace CsiDriver.Engine.Journal;

internal sealed partial class GroupJournal
{
    /// <summary>The newest sequence <see cref="ReleaseThrough"/>(<paramref name="sequence"/>) would
    /// release (whole segments only), or the sequence before the oldest held when it releases none.</summary>
    public long ReleaseBoundary(long sequence)
    {
        lock (_segments)
        {
            var kept = 0;
            while (kept + 1 < _segments.Count && _segments[kept + 1].StartSequence <= sequence + 1)
            {
                kept++;
            }
            return _segments[kept].StartSequence - 1;
        }
    }
}
