using CsiDriver.Engine.Journal;
using CsiDriver.Engine.Replication;

namespace CsiDriver.Engine.Tests.Replication;

public sealed class ReplicaBatchRecordTests
{
    private static readonly ReplicaBatch Batch = new(10, 17, 1_700_000_000_000_123, [
        ReplicaUpdate.Write("a", 4096, Bytes.Pattern(8192, 1)),
        new ReplicaUpdate("b", JournalRecordKind.Trim, 0, 65536, default),
        new ReplicaUpdate("a", JournalRecordKind.Resize, 0, 1 << 20, default),
    ]);

    private static byte[] Encode() => Encode(Batch, [7, 9, 7]);

    /// <summary>The record's payload in one buffer, as the journal writes it: the pieces of
    /// <see cref="ReplicaBatchRecord.Gather"/> one after another.</summary>
    internal static byte[] Encode(ReplicaBatch batch, IReadOnlyList<uint> volumeNumbers)
    {
        var pieces = new ReadOnlyMemory<byte>[ReplicaBatchRecord.MaxPieces(batch.Updates.Count)];
        var count = ReplicaBatchRecord.Gather(batch, volumeNumbers, new byte[ReplicaBatchRecord.HeadersSize(batch.Updates.Count)], pieces);
        var payload = new byte[ReplicaBatchRecord.SizeOf(batch.Updates)];
        var at = 0;
        foreach (var piece in pieces.AsSpan(0, count))
        {
            piece.Span.CopyTo(payload.AsSpan(at));
            at += piece.Length;
        }
        return payload;
    }

    [Fact]
    public void RoundTripsEveryUpdateInOrder()
    {
        var payload = Encode();
        Assert.True(ReplicaBatchRecord.TryParse(payload, out var reader, out var error), error);
        Assert.Equal((10L, 17L, 1_700_000_000_000_123L), (reader.AfterSequence, reader.LastSequence, reader.SourceTimestampMicros));
        var seen = new List<(uint, JournalRecordKind, long, long)>();
        var data = new List<byte[]>();
        while (reader.TryNext(out var update))
        {
            seen.Add((update.VolumeNumber, update.Kind, update.Offset, update.Length));
            data.Add(update.Data.ToArray());
        }
        Assert.Equal([(7u, JournalRecordKind.Write, 4096L, 8192L), (9u, JournalRecordKind.Trim, 0L, 65536L), (7u, JournalRecordKind.Resize, 0L, 1L << 20)], seen);
        Assert.Equal([Bytes.Pattern(8192, 1), [], []], data);
    }

    [Fact]
    public void RefusesTruncatedOversizedBadKindAndNewerPayloads()
    {
        var payload = Encode();
        Assert.False(ReplicaBatchRecord.TryParse(payload[..^1], out _, out _));
        Assert.False(ReplicaBatchRecord.TryParse([.. payload, 0], out _, out _));
        var badKind = (byte[])payload.Clone();
        badKind[ReplicaBatchRecord.HeaderSize + 4] = (byte)JournalRecordKind.Snapshot;
        Assert.False(ReplicaBatchRecord.TryParse(badKind, out _, out _));
        var newer = (byte[])payload.Clone();
        newer[2] = ReplicaBatchRecord.Version + 1;
        Assert.False(ReplicaBatchRecord.TryParse(newer, out _, out var error));
        Assert.Contains("version", error, StringComparison.Ordinal);
    }
}
