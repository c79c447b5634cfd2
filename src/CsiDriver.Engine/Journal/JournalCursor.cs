namespace CsiDriver.Engine.Journal;

/// <summary>
/// Reads one journal's records in sequence order from a given sequence on, and can be resumed:
/// when it has read everything appended so far, <see cref="TryNext"/> says so, and a later call
/// continues from the same place, in the same segment, without scanning again. It starts at the
/// segment's nearest index point, so opening one costs at most an index stride of scanning.
/// It holds its segment open: a segment released under it stays readable until it moves on
/// (the journal deletes it rather than reuse it, see <see cref="GroupJournal.Locate"/>), but
/// moving into a released one is refused (the reader fell behind an overrun). A rolled
/// segment is read up to its last sequence only: a reused file holds older bytes after it.
/// </summary>
internal sealed class JournalCursor : IDisposable
{
    private readonly GroupJournal _journal;
    private SegmentReader? _reader;
    private SegmentPlace _place;

    /// <exception cref="OutOfRangeException"><paramref name="fromSequence"/> was already released.</exception>
    public JournalCursor(GroupJournal journal, long fromSequence)
    {
        _journal = journal;
        NextSequence = fromSequence;
        Open();
    }

    /// <summary>The sequence the next record read will have.</summary>
    public long NextSequence { get; private set; }

    /// <summary>The next record, or false when none is appended yet. The payload is valid until the next call.</summary>
    /// <exception cref="OutOfRangeException">The records from <see cref="NextSequence"/> were released.</exception>
    /// <exception cref="CorruptionException">A record failed its checks or one is missing.</exception>
    public bool TryNext(out RecordHeader header, out ReadOnlyMemory<byte> payload)
    {
        while (true)
        {
            if (_place.Final && NextSequence > _place.LastSequence)
            {
                // The next segment starts right after this one's last record.
                MoveOn();
                continue;
            }
            var status = _reader!.Next();
            if (status == SegmentReadStatus.End && !_place.Final)
            {
                _place = _journal.Tail(_place.Number, NextSequence);
                _reader.Extend(_place.Length);
                if (_place.Final && NextSequence > _place.LastSequence)
                {
                    continue;
                }
                status = _reader.Next();
            }
            switch (status)
            {
                case SegmentReadStatus.Record when _reader.Header.Sequence < NextSequence:
                    continue; // between the index point and the first record wanted
                case SegmentReadStatus.Record when _reader.Header.Sequence == NextSequence:
                    header = _reader.Header;
                    payload = _reader.Payload;
                    NextSequence++;
                    return true;
                case SegmentReadStatus.Record:
                    throw new CorruptionException($"{_place.Path}: sequence {_reader.Header.Sequence} where {NextSequence} was due");
                case SegmentReadStatus.End when _place.Final:
                    throw new CorruptionException($"{_place.Path}: ends before record {NextSequence}, which it should hold");
                case SegmentReadStatus.End:
                    header = default;
                    payload = default;
                    return false;
                default:
                    throw new CorruptionException($"{_place.Path}: {_reader.Error}");
            }
        }
    }

    private void Open()
    {
        _reader = null;
        _place = _journal.Locate(NextSequence);
        try
        {
            _reader = SegmentReader.Open(_place.Path, _place.Length, out var error)
                ?? throw new CorruptionException($"{_place.Path}: {error}");
            _reader.Seek(_place.Offset);
        }
        catch
        {
            Leave();
            throw;
        }
    }

    private void MoveOn()
    {
        Leave();
        Open();
    }

    private void Leave()
    {
        _reader?.Dispose();
        _reader = null;
        _journal.Leave(_place.Number);
    }

    public void Dispose()
    {
        if (_reader != null)
        {
            Leave();
        }
    }
}
