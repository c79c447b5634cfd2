using CsiDriver.Engine;
using CsiDriver.Engine.Journal;

namespace CsiDriver.Replication;

/// <summary>
/// The chunks changed by the journal records a link has not shipped, kept up to date while the
/// link is down (the shipper reads on between reconnect attempts), so a catch-up that ships
/// them as one cut (<see cref="ShipperSession"/>'s delta and coalesced resyncs) starts sending
/// when the link is back instead of first reading every record of the backlog: planning at
/// the reconnect read ~123k record headers of a 0.5 GB backlog, the largest stage of the catch-up.
/// <para>It covers the records from <see cref="From"/> through <see cref="Through"/>, every one
/// of them, and may name chunks that need no shipping (records the receiver applied after all,
/// records past the resync's cut): a resync's plan may hold more than changed, never less.
/// Memory only: after a restart the first catch-up plans from the journal, as before.</para>
/// </summary>
public sealed class BacklogPlan(StorageEngine engine, ConsistencyGroup journal, string consumer, IReadOnlySet<string> volumeIds, long startBytes) : IDisposable
{
    private JournalReader? _reader;
    private ChunkSetBuilder _chunks = new();
    private bool _stopped;

    /// <summary>First record covered; 0 while nothing is.</summary>
    public long From { get; private set; }

    /// <summary>Last record covered (From − 1 when none yet).</summary>
    public long Through { get; private set; }

    /// <summary>Reads the records appended since the last call into the plan. Starts, after the
    /// link's acknowledged position, only once the journal retains <c>startBytes</c> (a short
    /// outage catches up record by record and needs no plan). Stops until the next
    /// <see cref="Restart"/>, keeping what it covers, when the records after it were released (an
    /// overrun: the consumer's dirty set covers those) or could not be read (the resync's own read
    /// at the reconnect then meets the same failure, and the session reports it).</summary>
    public void ReadOn()
    {
        if (_stopped)
        {
            return;
        }
        try
        {
            if (_reader is null && !TryStart())
            {
                return;
            }
            while (_reader!.TryReadHeader(out var record))
            {
                _chunks.Add(record, volumeIds);
                Through = record.Sequence;
            }
        }
        catch (Exception e) when (e is EngineException or ObjectDisposedException or IOException)
        {
            // From..Through stays covered; nothing after it is added. The reader goes now: a
            // segment it stands in that was released is deleted, and its space is only given
            // back once no reader holds it open.
            _stopped = true;
            _reader?.Dispose();
            _reader = null;
        }
    }

    /// <summary>Adds to <paramref name="plan"/> the chunks of the records from <paramref name="first"/>
    /// on that this plan covers; returns the first record it does not cover (<paramref name="first"/>
    /// when it covers none from there).</summary>
    public long AddTo(ChunkSetBuilder plan, long first)
    {
        ReadOn();
        if (From == 0 || From > first)
        {
            return first;
        }
        plan.UnionWith(_chunks);
        return Math.Max(first, Through + 1);
    }

    /// <summary>The link shipped records: the plan starts again from its new position when next needed.</summary>
    public void Restart()
    {
        _reader?.Dispose();
        _reader = null;
        _chunks = new ChunkSetBuilder();
        _stopped = false;
        From = 0;
        Through = 0;
    }

    private bool TryStart()
    {
        var status = engine.GetJournalStatus(journal);
        if (status.RetainedBytes < startBytes || status.Consumers.FirstOrDefault(c => c.Name == consumer) is not { } shipped)
        {
            return false;
        }
        _reader = engine.OpenJournalReader(journal, shipped.Position + 1);
        From = shipped.Position + 1;
        Through = shipped.Position;
        return true;
    }

    public void Dispose() => _reader?.Dispose();
}
