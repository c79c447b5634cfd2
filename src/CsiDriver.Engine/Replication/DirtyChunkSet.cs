using System.Buffers.Binary;
using System.Text;
using CsiDriver.Engine.Layers;

namespace CsiDriver.Engine.Replication;

/// <summary>
/// The chunks, per volume id, touched by journal records a consumer lost when the retention
/// budget released them before it had passed them: what a delta resync must ship instead.
/// Stored as <c>journals/&lt;journal&gt;/dirty-&lt;consumer&gt;</c> in the metadata frame (magic
/// "FDRT", frame version 1); payload, little-endian:
/// <code>
/// [0,2) version 1  [2,4) minimum compatible version 1  [4,8) volume count V
/// V times: [0,2) id length L  [2,2+L) volume id (UTF-8)  then [0,4) range count R
///          and R ranges of [0,8) first chunk, [8,16) chunk count (ascending, not touching)
/// </code>
/// The frame's CRC-32C (bytes [0,12) then the payload) covers it. The file existing means the
/// consumer is overrun (see <c>StorageEngine.DirtyChunks.cs</c> for why).
/// </summary>
internal sealed class DirtyChunkSet
{
    public const uint FileMagic = 0x54524446; // "FDRT"
    public const ushort Version = 1;
    public const ushort MinCompatibleVersion = 1;

    private readonly Dictionary<string, ulong[]> _volumes = new(StringComparer.Ordinal);

    public IEnumerable<string> VolumeIds => _volumes.Keys;

    /// <summary>Marks chunks [first, last] of the volume dirty.</summary>
    public void Add(string volumeId, long first, long last)
    {
        var words = _volumes.GetValueOrDefault(volumeId) ?? [];
        if ((last >> 6) >= words.Length)
        {
            Array.Resize(ref words, (int)(last >> 6) + 1);
        }
        _volumes[volumeId] = words;
        for (var chunk = first; chunk <= last; chunk++)
        {
            words[chunk >> 6] |= 1UL << (int)(chunk & 63);
        }
    }

    /// <summary>The volume's dirty chunks as merged ranges clipped to <paramref name="sizeBytes"/>.</summary>
    public IReadOnlyList<ChunkRange> Ranges(string volumeId, long sizeBytes) =>
        _volumes.TryGetValue(volumeId, out var words) ? ChunkRange.Coalesce(ChunkMap.ChunksOf(words), sizeBytes).ToList() : [];

    public byte[] Serialize()
    {
        var runs = _volumes.ToDictionary(v => v.Key, v => Runs(v.Value).ToList());
        var size = 8 + runs.Sum(r => 2 + Encoding.UTF8.GetByteCount(r.Key) + 4 + 16 * r.Value.Count);
        var bytes = new byte[size];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(span, Version);
        BinaryPrimitives.WriteUInt16LittleEndian(span[2..], MinCompatibleVersion);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], runs.Count);
        var at = 8;
        foreach (var (id, ranges) in runs)
        {
            var length = Encoding.UTF8.GetBytes(id, span[(at + 2)..]);
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)length);
            at += 2 + length;
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], ranges.Count);
            at += 4;
            foreach (var (first, count) in ranges)
            {
                BinaryPrimitives.WriteInt64LittleEndian(span[at..], first);
                BinaryPrimitives.WriteInt64LittleEndian(span[(at + 8)..], count);
                at += 16;
            }
        }
        return bytes;
    }

    public static bool TryParse(ReadOnlySpan<byte> payload, out DirtyChunkSet set, out string error)
    {
        set = new DirtyChunkSet();
        error = "";
        try
        {
            if (BinaryPrimitives.ReadUInt16LittleEndian(payload[2..]) > Version)
            {
                error = $"dirty-chunk set needs reader version {BinaryPrimitives.ReadUInt16LittleEndian(payload[2..])}; this reader is {Version}";
                return false;
            }
            var volumes = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
            var rest = payload[8..];
            for (var v = 0; v < volumes; v++)
            {
                var length = BinaryPrimitives.ReadUInt16LittleEndian(rest);
                var id = Encoding.UTF8.GetString(rest.Slice(2, length));
                var ranges = BinaryPrimitives.ReadInt32LittleEndian(rest[(2 + length)..]);
                rest = rest[(6 + length)..];
                for (var r = 0; r < ranges; r++)
                {
                    var first = BinaryPrimitives.ReadInt64LittleEndian(rest);
                    var count = BinaryPrimitives.ReadInt64LittleEndian(rest[8..]);
                    if (first < 0 || count <= 0)
                    {
                        error = $"volume '{id}': bad range ({first}, {count})";
                        return false;
                    }
                    set.Add(id, first, first + count - 1);
                    rest = rest[16..];
                }
            }
            if (!rest.IsEmpty)
            {
                error = $"{rest.Length} bytes left over";
                return false;
            }
            return true;
        }
        catch (ArgumentOutOfRangeException)
        {
            error = "dirty-chunk set ends early";
            return false;
        }
    }

    private static IEnumerable<(long First, long Count)> Runs(ulong[] words)
    {
        long start = -1, next = -1;
        foreach (var chunk in ChunkMap.ChunksOf(words))
        {
            if (chunk != next)
            {
                if (start >= 0)
                {
                    yield return (start, next - start);
                }
                start = chunk;
            }
            next = chunk + 1;
        }
        if (start >= 0)
        {
            yield return (start, next - start);
        }
    }
}
