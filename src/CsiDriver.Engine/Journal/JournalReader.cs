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
    public bool TryRead([NotNullWhen(true)] out JournalRecord? record) => TryNext(out record, Payload.Copied);

    /// <summary>The next record with its payload lent, not copied: the bytes are the reader's own
    /// and stay valid only until its next read or its disposal. For a caller that copies the
    /// payload onward itself (the shipper packs a batch's payloads into one buffer): a copy of
    /// each record in an array of its own costs a fresh array per record, and at thousands of
    /// records a second the page faults and zeroing of that garbage cost more than the copy.</summary>
    /// <exception cref="OutOfRangeException">The records from <see cref="NextSequence"/> were released (an overrun).</exception>
    /// <exception cref="CorruptionException">A record failed its checks.</exception>
    public bool TryReadLent([NotNullWhen(true)] out JournalRecord? record) => TryNext(out record, Payload.Lent);

    /// <summary>The next record without its payload (kind, volume and range: what it changed), or
    /// false when none is appended yet; no copy of the payload is made, though it is still checked.</summary>
    /// <exception cref="OutOfRangeException">The records from <see cref="NextSequence"/> were released (an overrun).</exception>
    /// <exception cref="CorruptionException">A record failed its checks.</exception>
    public bool TryReadHeader([NotNullWhen(true)] out JournalRecord? record) => TryNext(out record, Payload.Left);

    private bool TryNext([NotNullWhen(true)] out JournalRecord? record, Payload use)
    {
        if (!_cursor.TryNext(out var header, out var payload))
        {
            record = null;
            return false;
        }
        var volumeId = _volumeIdOf(header.VolumeNumber);
        record = use switch
        {
            Payload.Copied => JournalRecord.Of(header, volumeId, payload),
            Payload.Lent => JournalRecord.Lent(header, volumeId, payload),
            _ => JournalRecord.Lent(header, volumeId, ReadOnlyMemory<byte>.Empty),
        };
        return true;
    }

    private enum Payload
    {
        Copied,
        Lent,
        Left,
    }

    public void Dispose() => _cursor.Dispose();
}
