using System.Buffers.Binary;
using System.Text;
using CsiDriver.Engine.Journal;
using Formation.SiteLink.V1;
using Google.Protobuf;

namespace CsiDriver.Replication;

/// <summary>
/// A ShipperMessage carrying a Batch, written straight into one reused buffer as the journal
/// is read and already framed for gRPC (the 5-byte prefix, then the message): each payload is
/// copied once, from the journal reader's buffer into the frame the site link sends. Built as
/// messages, a batch's payloads were copied once more by protobuf's serializer into a frame
/// of their own (ship12's profile of the main site: that copy was the largest of the copies the
/// shipper made). The bytes are the protocol's own encoding of the same message, so a receiver
/// of any version parses them as before: the Batch's updates come first and its numbers after
/// them, since only then are they known (protobuf parsers take fields in any order).
/// <para>Layout of the buffer: <see cref="HeaderRoom"/> bytes, then the updates, then the
/// batch's numbers; the prefix, the message's tag and the batch's length go right before the
/// updates once the length is known, so the frame starts where they begin.</para>
/// </summary>
internal sealed class BatchFrame
{
    /// <summary>gRPC prefix (flag and length), ShipperMessage's batch tag, and the batch's length as a varint.</summary>
    private const int HeaderRoom = 5 + 1 + MaxVarint32;

    /// <summary>The batch's three numbers, each a tag and a varint.</summary>
    private const int TrailerRoom = 3 * (1 + MaxVarint64);

    private const int MaxVarint32 = 5;
    private const int MaxVarint64 = 10;

    private static readonly byte UpdateTag = Tag(Batch.UpdatesFieldNumber, WireFormat.WireType.LengthDelimited);
    private static readonly byte BatchTag = Tag(ShipperMessage.BatchFieldNumber, WireFormat.WireType.LengthDelimited);

    private readonly Dictionary<string, byte[]> _volumeIds;
    private readonly byte[] _standard;
    private byte[] _buffer;
    private int _end;

    /// <param name="volumeIds">The volumes whose records the link ships: an update names one of them.</param>
    public BatchFrame(IEnumerable<string> volumeIds)
    {
        _volumeIds = volumeIds.ToDictionary(id => id, Encoding.UTF8.GetBytes, StringComparer.Ordinal);
        var largestUpdateRoom = _volumeIds.Values.Select(id => UpdateRoom(id.Length, 0)).DefaultIfEmpty(0).Max();
        _standard = _buffer = new byte[HeaderRoom + SiteLinkProtocol.MaxPayloadPerMessage
            + SiteLinkProtocol.MaxUpdatesPerMessage * largestUpdateRoom + TrailerRoom];
        _end = HeaderRoom;
    }

    /// <summary>Starts the next batch; what the previous one lent is overwritten from here on.</summary>
    public void Begin()
    {
        _buffer = _standard;
        _end = HeaderRoom;
    }

    /// <summary>Writes <paramref name="record"/> (a record the link ships, of one of its volumes) as
    /// the batch's next update; returns its payload as it lies in the frame. The batcher keeps a
    /// batch within <see cref="SiteLinkProtocol.MaxPayloadPerMessage"/> and
    /// <see cref="SiteLinkProtocol.MaxUpdatesPerMessage"/>, which the buffer is sized for; a record
    /// larger than a whole batch's budget ships alone, in a buffer of its own.</summary>
    public ReadOnlyMemory<byte> Add(JournalRecord record)
    {
        var id = _volumeIds[record.VolumeId!];
        var payload = record.Payload.Span;
        var room = UpdateRoom(id.Length, payload.Length);
        if (_end + room + TrailerRoom > _buffer.Length)
        {
            if (_end != HeaderRoom)
            {
                throw new InvalidOperationException($"a batch frame of {_buffer.Length} bytes has no room for an update of {payload.Length} payload bytes");
            }
            _buffer = new byte[HeaderRoom + room + TrailerRoom];
        }
        // The update's length goes in front of its fields, so it is computed first.
        var size = 1 + VarintSize((uint)id.Length) + id.Length
            + 1 + VarintSize((ulong)SiteLinkProtocol.ToWire(record.Kind))
            + 1 + VarintSize((ulong)record.Offset)
            + 1 + VarintSize((ulong)record.Length)
            + (payload.IsEmpty ? 0 : 1 + VarintSize((uint)payload.Length) + payload.Length);
        var span = _buffer.AsSpan(_end);
        var at = 0;
        span[at++] = UpdateTag;
        at += WriteVarint(span[at..], (uint)size);
        span[at++] = Tag(Update.VolumeIdFieldNumber, WireFormat.WireType.LengthDelimited);
        at += WriteVarint(span[at..], (uint)id.Length);
        id.CopyTo(span[at..]);
        at += id.Length;
        span[at++] = Tag(Update.KindFieldNumber, WireFormat.WireType.Varint);
        at += WriteVarint(span[at..], (ulong)SiteLinkProtocol.ToWire(record.Kind));
        span[at++] = Tag(Update.OffsetFieldNumber, WireFormat.WireType.Varint);
        at += WriteVarint(span[at..], (ulong)record.Offset);
        span[at++] = Tag(Update.LengthFieldNumber, WireFormat.WireType.Varint);
        at += WriteVarint(span[at..], (ulong)record.Length);
        var kept = ReadOnlyMemory<byte>.Empty;
        if (!payload.IsEmpty)
        {
            span[at++] = Tag(Update.PayloadFieldNumber, WireFormat.WireType.LengthDelimited);
            at += WriteVarint(span[at..], (uint)payload.Length);
            payload.CopyTo(span[at..]);
            kept = _buffer.AsMemory(_end + at, payload.Length);
            at += payload.Length;
        }
        _end += at;
        return kept;
    }

    /// <summary>Writes the batch's numbers and the frame's header; returns the whole frame, valid until <see cref="Begin"/>.</summary>
    public ReadOnlyMemory<byte> Finish(long afterSequence, long lastSequence, long sourceTimestampMicros)
    {
        var trailer = _buffer.AsSpan(_end);
        var at = 0;
        trailer[at++] = Tag(Batch.AfterSequenceFieldNumber, WireFormat.WireType.Varint);
        at += WriteVarint(trailer[at..], (ulong)afterSequence);
        trailer[at++] = Tag(Batch.LastSequenceFieldNumber, WireFormat.WireType.Varint);
        at += WriteVarint(trailer[at..], (ulong)lastSequence);
        trailer[at++] = Tag(Batch.SourceTimestampMicrosFieldNumber, WireFormat.WireType.Varint);
        at += WriteVarint(trailer[at..], (ulong)sourceTimestampMicros);
        _end += at;

        var batchLength = (uint)(_end - HeaderRoom);
        var messageLength = 1 + VarintSize(batchLength) + batchLength;
        var start = HeaderRoom - 5 - 1 - VarintSize(batchLength);
        var header = _buffer.AsSpan(start, HeaderRoom - start);
        header[0] = 0; // not compressed
        BinaryPrimitives.WriteUInt32BigEndian(header[1..], (uint)messageLength);
        header[5] = BatchTag;
        WriteVarint(header[6..], batchLength);
        return _buffer.AsMemory(start, _end - start);
    }

    /// <summary>Most bytes an update with an id of <paramref name="idBytes"/> and a payload of
    /// <paramref name="payloadBytes"/> takes: its tag and length, and five fields at their longest.</summary>
    private static int UpdateRoom(int idBytes, int payloadBytes) =>
        1 + MaxVarint32 + (1 + MaxVarint32 + idBytes) + 3 * (1 + MaxVarint64) + (1 + MaxVarint32 + payloadBytes);

    private static byte Tag(int fieldNumber, WireFormat.WireType type) => (byte)WireFormat.MakeTag(fieldNumber, type);

    private static int VarintSize(ulong value) => CodedOutputStream.ComputeRawVarint64Size(value);

    private static int WriteVarint(Span<byte> span, ulong value)
    {
        var at = 0;
        while (value >= 0x80)
        {
            span[at++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[at++] = (byte)value;
        return at;
    }
}
