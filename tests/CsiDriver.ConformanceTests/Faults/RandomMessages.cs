using System.Collections;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace CsiDriver.ConformanceTests.Faults;

/// <summary>
/// Well-formed protobuf messages with hostile content, built from a method's input descriptor:
/// every field set or not at random, strings from a list of troublemakers (empty, huge, path
/// traversal, control characters, invalid UTF-16 made valid UTF-8 by the encoder), numbers at
/// their edges, repeated fields and maps of a few entries, nested messages to a bounded depth.
/// Paths never name the test's kubelet directory, and no value is a host:port, so nothing a
/// fuzzed call does can mount, attach or dial out.
/// </summary>
internal static class RandomMessages
{
    private static readonly string[] Strings =
    [
        "", "a", "vol-1", "..", "../../etc/passwd", "/nonexistent-formation", "/tmp/../nonexistent-formation", "a/b", "a\0b", "\n", " ",
        "%s%n%x", "{\"json\":1}", "ünïcödé", new string('x', 129), new string('y', 5000),
        "consistencyGroup", "csi.storage.k8s.io/pvc/name", "ext4", "xfs", "rw", "ro",
    ];

    private static readonly long[] Numbers = [0, 1, -1, 4095, 4096, 1 << 30, long.MaxValue, long.MinValue, int.MaxValue, int.MinValue];

    public static byte[] Create(MessageDescriptor descriptor, Random random) =>
        Fill(descriptor, random, depth: 0).ToByteArray();

    private static IMessage Fill(MessageDescriptor descriptor, Random random, int depth)
    {
        var message = descriptor.Parser.ParseFrom(ByteString.Empty);
        foreach (var field in descriptor.Fields.InFieldNumberOrder())
        {
            if (random.Next(3) == 0)
            {
                continue;
            }
            if (field.IsMap)
            {
                var map = (IDictionary)field.Accessor.GetValue(message);
                var key = field.MessageType.FindFieldByNumber(1);
                var value = field.MessageType.FindFieldByNumber(2);
                for (var i = random.Next(4); i > 0; i--)
                {
                    map[Value(key, random, depth)] = Value(value, random, depth);
                }
            }
            else if (field.IsRepeated)
            {
                var list = (IList)field.Accessor.GetValue(message);
                for (var i = random.Next(4); i > 0; i--)
                {
                    list.Add(Value(field, random, depth));
                }
            }
            else
            {
                field.Accessor.SetValue(message, Value(field, random, depth));
            }
        }
        return message;
    }

    private static object Value(FieldDescriptor field, Random random, int depth) => field.FieldType switch
    {
        FieldType.String => Strings[random.Next(Strings.Length)],
        FieldType.Bytes => ByteString.CopyFrom(RandomBytes(random, random.Next(64))),
        FieldType.Bool => random.Next(2) == 0,
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => Numbers[random.Next(Numbers.Length)],
        FieldType.UInt64 or FieldType.Fixed64 => (ulong)Numbers[random.Next(Numbers.Length)],
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => (int)Numbers[random.Next(Numbers.Length)],
        FieldType.UInt32 or FieldType.Fixed32 => (uint)Numbers[random.Next(Numbers.Length)],
        FieldType.Double => random.Next(2) == 0 ? double.NaN : Numbers[random.Next(Numbers.Length)] * 1.0,
        FieldType.Float => random.Next(2) == 0 ? float.PositiveInfinity : Numbers[random.Next(Numbers.Length)] * 1.0f,
        FieldType.Enum => Enum.ToObject(field.EnumType.ClrType, random.Next(3) == 0 ? random.Next(-5, 100) : field.EnumType.Values[random.Next(field.EnumType.Values.Count)].Number),
        FieldType.Message when depth < 3 => Fill(field.MessageType, random, depth + 1),
        FieldType.Message => field.MessageType.Parser.ParseFrom(ByteString.Empty),
        _ => throw new NotSupportedException($"field type {field.FieldType} of {field.FullName}"),
    };

    public static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
