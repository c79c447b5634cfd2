using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using CsiDriver.Engine.Metadata;

namespace CsiDriver.Engine.Layers;

/// <summary>
/// Which chunks a layer holds: one bit per chunk. Bits are set and cleared atomically so
/// readers may test them without the writer's lock. Persisted at checkpoints as
/// <c>layers/&lt;id&gt;.map</c> in the <see cref="MetadataFile"/> frame (magic "FMAP") with the
/// payload: [0,8) chunk count, then the bit words (ulong, little-endian, bit i of word w is
/// chunk 64w+i).
/// </summary>
internal sealed class ChunkMap
{
    public const uint FileMagic = 0x50414D46; // "FMAP"

    private ulong[] _words;
    private long _count;

    public ChunkMap(long chunkCount) => _words = new ulong[WordsFor(chunkCount)];

    private ChunkMap(ulong[] words)
    {
        _words = words;
        _count = words.Sum(w => (long)ulong.PopCount(w));
    }

    /// <summary>Chunks held.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>Set when a bit changed since <see cref="TakeForCheckpoint"/>.</summary>
    public bool IsDirty { get; private set; }

    public bool Contains(long chunk)
    {
        var words = Volatile.Read(ref _words);
        var word = chunk >> 6;
        return word < words.Length && (Volatile.Read(ref words[word]) & (1UL << (int)(chunk & 63))) != 0;
    }

    /// <summary>Returns true when the chunk was not held before.</summary>
    public bool Add(long chunk)
    {
        var bit = 1UL << (int)(chunk & 63);
        var old = Interlocked.Or(ref _words[chunk >> 6], bit);
        if ((old & bit) != 0)
        {
            return false;
        }
        Interlocked.Increment(ref _count);
        IsDirty = true;
        return true;
    }

    public bool Remove(long chunk)
    {
        var words = _words;
        var word = chunk >> 6;
        if (word >= words.Length)
        {
            return false;
        }
        var bit = 1UL << (int)(chunk & 63);
        var old = Interlocked.And(ref words[word], ~bit);
        if ((old & bit) == 0)
        {
            return false;
        }
        Interlocked.Decrement(ref _count);
        IsDirty = true;
        return true;
    }

    /// <summary>Makes room for <paramref name="chunkCount"/> chunks; caller excludes writers.</summary>
    public void Grow(long chunkCount)
    {
        var needed = WordsFor(chunkCount);
        if (needed > _words.Length)
        {
            var grown = new ulong[needed];
            _words.CopyTo(grown, 0);
            Volatile.Write(ref _words, grown);
        }
    }

    /// <summary>Held chunks in ascending order.</summary>
    public IEnumerable<long> Chunks() => ChunksOf(Volatile.Read(ref _words));

    /// <summary>Sets in <paramref name="union"/> every bit this map holds (up to its length).</summary>
    public void OrInto(ulong[] union)
    {
        var words = Volatile.Read(ref _words);
        for (var w = 0; w < Math.Min(words.Length, union.Length); w++)
        {
            union[w] |= Volatile.Read(ref words[w]);
        }
    }

    /// <summary>Word array sized for <paramref name="chunkCount"/> chunks, for <see cref="OrInto"/>.</summary>
    public static ulong[] NewWords(long chunkCount) => new ulong[WordsFor(chunkCount)];

    public static IEnumerable<long> ChunksOf(ulong[] words)
    {
        for (long w = 0; w < words.Length; w++)
        {
            var bits = Volatile.Read(ref words[w]);
            while (bits != 0)
            {
                yield return (w << 6) + BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
            }
        }
    }

    /// <summary>Gives the dirty mark back: a checkpoint took the bits but could not write them.</summary>
    public void MarkDirty() => IsDirty = true;

    /// <summary>Copies the bits and clears the dirty mark; called while writers are paused.</summary>
    public byte[] TakeForCheckpoint()
    {
        IsDirty = false;
        var words = Volatile.Read(ref _words);
        var payload = new byte[8 + words.Length * 8];
        BinaryPrimitives.WriteInt64LittleEndian(payload, words.Length * 64L);
        MemoryMarshal.AsBytes(words.AsSpan()).CopyTo(payload.AsSpan(8));
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("chunk maps are stored little-endian");
        }
        return payload;
    }

    public static ChunkMap Parse(ReadOnlySpan<byte> payload, string path)
    {
        if (payload.Length < 8)
        {
            throw new CorruptionException($"{path}: chunk map too short");
        }
        var count = BinaryPrimitives.ReadInt64LittleEndian(payload);
        if (count < 0 || count % 64 != 0 || payload.Length != 8 + count / 8)
        {
            throw new CorruptionException($"{path}: chunk count {count} does not match {payload.Length} bytes");
        }
        return new ChunkMap(MemoryMarshal.Cast<byte, ulong>(payload[8..]).ToArray());
    }

    private static long WordsFor(long chunkCount) => (chunkCount + 63) / 64;
}
