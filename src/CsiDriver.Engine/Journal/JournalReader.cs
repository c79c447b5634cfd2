using System.Diagnostics.CodeAnalysis;

namespace CsiDriver.Engine.Journal;

/// <summary>
/// A consumer's resumable read of one journal (the replication shipper keeps one while it tails
/// the journal): records in sequence order from where it was opened, each with its own copy of the
/// payload and its volume's id. When it has read everything appended so far it says so; a later
/// call continues from there.
/// </summary>
public sealed class JournalReader : IDisposable
{
    private readonly JournalCursor _cursor;
    private readonly Func<uint, string?> _volumeIdOf;

    internal JournalReader(JournalCursor cursor, Func<uint, string?> volumeIdOf)
    {
        _cursor = cursor;
        _volumeIdOf = volumeIdOf;
    }

    /// <summary>The sequence the next record read will have.</summary>
    public long NextSequence => _cursor.NextSequence;

    /// <summary>The next record, or false when none is appended yet.</summary>
    /// <exception cref="OutOfRangeException">The records from <see cref="NextSequence"/> were released (an overrun).</exception>
    /// <exception cref="CorruptionException">A record failed its checks.</exception>
    public bool TryRead([NotNullWhen(true)] out JournalRecord? record) => TryNext(out record, withPayload: true);

    /// <summary>The next record without its payload (kind, volume and range: what it changed), or
    /// false when none is appended yet; no copy of the payload is made, though it is still checked.</summary>
    /// <exception cref="OutOfRangeException">The records from <see cref="NextSequence"/> were released (an overrun).</exception>
    /// <exception cref="CorruptionException">A record failed its checks.</exception>
    public bool TryReadHeader([NotNullWhen(true)] out JournalRecord? record) => TryNext(out record, withPayload: false);

    private bool TryNext([NotNullWhen(true)] out JournalRecord? record, bool withPayload)
    {
        if (!_cursor.TryNext(out var header, out var payload))
        {
            record = null;
            return false;
        }
        record = JournalRecord.Of(header, _volumeIdOf(header.VolumeNumber), withPayload ? payload : ReadOnlyMemory<byte>.Empty);
        return true;
    }

    public void Dispose() => _cursor.Dispose();
}
