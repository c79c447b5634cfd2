using System.Buffers;
using System.Text;
using Formation.SiteLink.V1;
using Google.Protobuf;

namespace CsiDriver.Replication;

/// <summary>
/// Decodes the shipper's messages at the backup. A Batch's or Chunks' update payloads become
/// slices of one pooled copy of the message (<see cref="ShipperMessage.PayloadBuffer"/>), not an
/// array each: the generated parser allocates and zeroes a fresh array per payload, which was the
/// backup's largest item in a catch-up (memset and its page faults, 16 % of its samples) and
/// ~8 % applying 4 KiB records. Only the fields sitelink.proto gives those messages are decoded
/// here, with the same results as the generated parser; a message with anything else (another
/// body, an unknown field, a field repeated where the parser would merge) or malformed bytes
/// goes to the generated parser, which decodes or refuses it as always.
/// </summary>
internal static class ShipperMessageDecoder
{
    private const int WireVarint = 0;
    private const int WireLengthDelimited = 2;

    public static ShipperMessage Decode(ReadOnlySequence<byte> bytes)
    {
        var length = checked((int)bytes.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        bytes.CopyTo(buffer);
        if (TryDecode(buffer, length) is { } message)
        {
            message.PayloadBuffer = buffer;
            return message;
        }
        ArrayPool<byte>.Shared.Return(buffer);
        return ShipperMessage.Parser.ParseFrom(bytes);
    }

    /// <summary>Gives the message's buffer back once nothing reads its payloads any more (the
    /// engine has copied or written them); its updates must not be read after.</summary>
    public static void Release(ShipperMessage message)
    {
        if (message.PayloadBuffer is { } buffer)
        {
            message.PayloadBuffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The message when it is one Batch or Chunks body this decoder takes; else null.</summary>
    private static ShipperMessage? TryDecode(byte[] buffer, int length)
    {
        var reader = new Reader(buffer, 0, length);
        if (!reader.TryTag(out var field, out var wire) || wire != WireLengthDelimited || !reader.TryLength(out var bodyLength))
        {
            return null;
        }
        var body = new Reader(buffer, reader.At, reader.At + bodyLength);
        if (!reader.TrySkip(bodyLength) || !reader.AtEnd)
        {
            return null; // a second field: the parser merges, so it decides
        }
        var names = new VolumeNames();
        return field switch
        {
            3 => TryChunks(body, names) is { } chunks ? new ShipperMessage { Chunks = chunks } : null,
            5 => TryBatch(body, names) is { } batch ? new ShipperMessage { Batch = batch } : null,
            _ => null,
        };
    }

    private static Chunks? TryChunks(Reader reader, VolumeNames names)
    {
        var chunks = new Chunks();
        while (!reader.AtEnd)
        {
            if (!reader.TryTag(out var field, out var wire) || field != 1 || wire != WireLengthDelimited
                || TryUpdate(ref reader, names) is not { } update)
            {
                return null;
            }
            chunks.Updates.Add(update);
        }
        return chunks;
    }

    private static Batch? TryBatch(Reader reader, VolumeNames names)
    {
        var batch = new Batch();
        while (!reader.AtEnd)
        {
            if (!reader.TryTag(out var field, out var wire))
            {
                return null;
            }
            switch (field, wire)
            {
                case (1, WireVarint) when reader.TryVarint(out var after):
                    batch.AfterSequence = (long)after;
                    break;
                case (2, WireVarint) when reader.TryVarint(out var last):
                    batch.LastSequence = (long)last;
                    break;
                case (3, WireVarint) when reader.TryVarint(out var micros):
                    batch.SourceTimestampMicros = (long)micros;
                    break;
                case (4, WireLengthDelimited) when TryUpdate(ref reader, names) is { } update:
                    batch.Updates.Add(update);
                    break;
                default:
                    return null;
            }
        }
        return batch;
    }

    /// <summary>An Update (its length prefix next in <paramref name="reader"/>), its payload a slice of the buffer.</summary>
    private static Update? TryUpdate(ref Reader reader, VolumeNames names)
    {
        if (!reader.TryLength(out var length))
        {
            return null;
        }
        var fields = new Reader(reader.Buffer, reader.At, reader.At + length);
        reader.TrySkip(length);
        var update = new Update();
        while (!fields.AtEnd)
        {
            if (!fields.TryTag(out var field, out var wire))
            {
                return null;
            }
            switch (field, wire)
            {
                case (1, WireLengthDelimited) when fields.TryLength(out var idLength):
                    update.VolumeId = names.Get(fields.Buffer.AsSpan(fields.At, idLength));
                    fields.TrySkip(idLength);
                    break;
                case (2, WireVarint) when fields.TryVarint(out var kind):
                    update.Kind = (UpdateKind)(int)kind;
                    break;
                case (3, WireVarint) when fields.TryVarint(out var offset):
                    update.Offset = (long)offset;
                    break;
                case (4, WireVarint) when fields.TryVarint(out var bytes):
                    update.Length = (long)bytes;
                    break;
                case (5, WireLengthDelimited) when fields.TryLength(out var payloadLength):
                    update.Payload = UnsafeByteOperations.UnsafeWrap(fields.Buffer.AsMemory(fields.At, payloadLength));
                    fields.TrySkip(payloadLength);
                    break;
                default:
                    return null;
            }
        }
        return update;
    }

    /// <summary>The updates of a message name a few volumes, over and over: one string each.</summary>
    private sealed class VolumeNames
    {
        private readonly List<(byte[] Bytes, string Name)> _seen = [];

        public string Get(ReadOnlySpan<byte> utf8)
        {
            foreach (var (bytes, name) in _seen)
            {
                if (utf8.SequenceEqual(bytes))
                {
                    return name;
                }
            }
            var decoded = Encoding.UTF8.GetString(utf8); // as the parser: invalid bytes become U+FFFD
            _seen.Add((utf8.ToArray(), decoded));
            return decoded;
        }
    }

    /// <summary>Protobuf's wire format over [At, end) of a buffer; every read checks the bounds.</summary>
    private struct Reader(byte[] buffer, int at, int end)
    {
        public byte[] Buffer { get; } = buffer;

        public int At { get; private set; } = at;

        public readonly bool AtEnd => At >= end;

        public bool TryTag(out int field, out int wire)
        {
            field = wire = 0;
            if (!TryVarint(out var tag) || tag >> 3 is 0 or > int.MaxValue)
            {
                return false;
            }
            (field, wire) = ((int)(tag >> 3), (int)(tag & 7));
            return true;
        }

        public bool TryVarint(out ulong value)
        {
            value = 0;
            for (var shift = 0; shift < 64 && At < end; shift += 7)
            {
                var b = Buffer[At++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return true;
                }
            }
            return false;
        }

        /// <summary>A length prefix whose bytes all lie inside the range.</summary>
        public bool TryLength(out int length)
        {
            length = 0;
            if (!TryVarint(out var value) || value > (ulong)(end - At))
            {
                return false;
            }
            length = (int)value;
            return true;
        }

        public bool TrySkip(int length)
        {
            if (length > end - At)
            {
                return false;
            }
            At += length;
            return true;
        }
    }
}
