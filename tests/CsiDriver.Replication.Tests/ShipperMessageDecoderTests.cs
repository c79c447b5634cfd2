using System.Buffers;
using System.Runtime.InteropServices;
using CsiDriver.Replication;
using Formation.SiteLink.V1;
using Google.Protobuf;

namespace CsiDriver.Replication.Tests;

public sealed class ShipperMessageDecoderTests
{
    private static Update RandomUpdate(Random random, string[] volumes)
    {
        var payload = new byte[random.Next(4) == 0 ? 0 : random.Next(1, 70_000)];
        random.NextBytes(payload);
        return new Update
        {
            VolumeId = volumes[random.Next(volumes.Length)],
            Kind = (UpdateKind)random.Next(0, 7), // unknown values too: the parser keeps them
            Offset = random.Next(3) == 0 ? -random.NextInt64(1, long.MaxValue) : random.NextInt64(0, 1L << 40),
            Length = random.NextInt64(0, 1L << 30),
            Payload = ByteString.CopyFrom(payload),
        };
    }

    private static IEnumerable<ShipperMessage> RandomBodies(int seed)
    {
        var random = new Random(seed);
        string[] volumes = ["pvc-0a1b2c3d-4e5f-6789-abcd-ef0123456789", "b", "vol-ü"];
        for (var i = 0; i < 20; i++)
        {
            var batch = new Batch { AfterSequence = random.NextInt64(), LastSequence = random.NextInt64(), SourceTimestampMicros = random.NextInt64() };
            var chunks = new Chunks();
            for (var u = random.Next(0, 40); u > 0; u--)
            {
                batch.Updates.Add(RandomUpdate(random, volumes));
                chunks.Updates.Add(RandomUpdate(random, volumes));
            }
            yield return new ShipperMessage { Batch = batch };
            yield return new ShipperMessage { Chunks = chunks };
        }
    }

    [Fact]
    public void BatchesAndChunksDecodeAsTheParserDoesWithPayloadsInsideOneBuffer()
    {
        foreach (var message in RandomBodies(seed: 16))
        {
            var bytes = message.ToByteArray();
            var decoded = ShipperMessageDecoder.Decode(InSegments(bytes, 1000));
            Assert.Equal(ShipperMessage.Parser.ParseFrom(bytes), decoded);
            Assert.NotNull(decoded.PayloadBuffer);
            var updates = decoded.Batch?.Updates ?? decoded.Chunks.Updates;
            foreach (var update in updates.Where(u => !u.Payload.IsEmpty))
            {
                Assert.True(MemoryMarshal.TryGetArray(update.Payload.Memory, out var segment));
                Assert.Same(decoded.PayloadBuffer, segment.Array);
            }
            ShipperMessageDecoder.Release(decoded);
            Assert.Null(decoded.PayloadBuffer);
        }
    }

    [Fact]
    public void EverythingElseGoesToTheParser()
    {
        var batch = new ShipperMessage { Batch = new Batch { AfterSequence = 4, LastSequence = 9, Updates = { new Update { VolumeId = "a", Kind = UpdateKind.Write, Length = 3, Payload = ByteString.CopyFrom(1, 2, 3) } } } };
        var unknownField = new Batch { AfterSequence = 4 }.ToByteArray().Concat(new byte[] { 9 << 3, 1 }).ToArray(); // field 9, varint 1
        byte[][] others =
        [
            new ShipperMessage { Heartbeat = new Heartbeat { SourceLastSequence = 7 } }.ToByteArray(),
            new ShipperMessage { Open = new Open { ReplicationId = "r", ProtocolVersion = 2 } }.ToByteArray(),
            new ShipperMessage { ResyncComplete = new ResyncComplete { SourceSequence = 3 } }.ToByteArray(),
            [(5 << 3) | 2, (byte)unknownField.Length, .. unknownField],
            [.. batch.ToByteArray(), .. batch.ToByteArray()], // the body twice: the parser merges the two
            [],
        ];
        foreach (var bytes in others)
        {
            var decoded = ShipperMessageDecoder.Decode(new ReadOnlySequence<byte>(bytes));
            Assert.Equal(ShipperMessage.Parser.ParseFrom(bytes), decoded);
            Assert.Null(decoded.PayloadBuffer);
        }
    }

    [Fact]
    public void MalformedBytesAreRefusedAsByTheParser()
    {
        var bytes = RandomBodies(seed: 3).First(m => m.Batch.Updates.Count > 0).ToByteArray();
        foreach (var cut in new[] { bytes.Length - 1, bytes.Length / 2, 3 })
        {
            Assert.Throws<InvalidProtocolBufferException>(() => ShipperMessageDecoder.Decode(new ReadOnlySequence<byte>(bytes, 0, cut)));
        }
    }

    /// <summary>Bytes as a pipe hands them over: in segments.</summary>
    private static ReadOnlySequence<byte> InSegments(byte[] bytes, int size)
    {
        var first = new Segment(bytes.AsMemory(0, Math.Min(size, bytes.Length)), 0);
        var last = first;
        for (var at = size; at < bytes.Length; at += size)
        {
            last = last.Append(bytes.AsMemory(at, Math.Min(size, bytes.Length - at)));
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
