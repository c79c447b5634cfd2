using System.Buffers;
using CsiDriver.Engine.Journal;

namespace CsiDriver.Engine.Layers;

/// <summary>
/// Reads and updates through a chain of layers, chunk by chunk. Updates touch only the top
/// layer and run under the owning volume's apply lock; reads may run beside them (a chunk's bit
/// is set only after its data is in place, so a reader sees the old or the new copy, whole).
/// </summary>
internal static class LayerChain
{
    private const int ChunkSize = ChunkRange.ChunkSize;

    /// <summary>The nearest layer from <paramref name="layer"/> upwards holding the chunk.</summary>
    public static Layer? Resolve(Layer? layer, long chunk)
    {
        for (; layer != null; layer = layer.Parent)
        {
            if (layer.Map.Contains(chunk))
            {
                return layer;
            }
        }
        return null;
    }

    public static void Read(Layer top, long offset, Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var chunk = offset / ChunkSize;
            var n = (int)Math.Min(buffer.Length, (chunk + 1) * ChunkSize - offset);
            var holder = Resolve(top, chunk);
            if (holder == null)
            {
                buffer[..n].Clear();
            }
            else
            {
                holder.Read(offset, buffer[..n]);
            }
            offset += n;
            buffer = buffer[n..];
        }
    }

    /// <summary>Applies one journaled update (a write, TRIM or WRITE_ZEROES) to the top layer of
    /// a volume of <paramref name="sizeBytes"/>; applying it again changes nothing more.</summary>
    public static void Apply(Layer top, long sizeBytes, JournalRecordKind kind, long offset, long length, ReadOnlySpan<byte> data)
    {
        if (kind == JournalRecordKind.Write)
        {
            Write(top, offset, data);
        }
        else
        {
            Discard(top, sizeBytes, offset, length);
        }
    }

    /// <summary>Chunk by chunk: each is acquired (a partial one copied up), then its part of the
    /// data goes to the top layer in a write of its own. Not one write for the whole range: the
    /// kernel sizes a page-cache folio by the write that creates it (ext4 has large folios since
    /// 6.16), and every later small write into a folio walks all of its blocks — after 1 MiB
    /// writes, 4 KiB random writes cost about five times the CPU in the kernel here (measured,
    /// one CPU: ext4_block_write_begin 23 % of the process's samples against 4 %). Chunk-sized
    /// writes keep folios at most a chunk.</summary>
    public static void Write(Layer top, long offset, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var chunk = offset / ChunkSize;
            var n = (int)Math.Min(data.Length, (chunk + 1) * ChunkSize - offset);
            if (!top.Map.Contains(chunk))
            {
                Acquire(top, chunk, wholeChunkFollows: n == ChunkSize);
            }
            top.Write(offset, data[..n]);
            offset += n;
            data = data[n..];
        }
    }

    /// <summary>TRIM and WRITE_ZEROES: the range reads as zeroes and its space in the top layer
    /// is released. A whole chunk no ancestor holds is simply dropped from the map; one an
    /// ancestor holds stays in the map as a hole, hiding the ancestor's copy.</summary>
    public static void Discard(Layer top, long sizeBytes, long offset, long length)
    {
        var end = offset + length;
        while (offset < end)
        {
            var chunk = offset / ChunkSize;
            var chunkStart = chunk * ChunkSize;
            var chunkEnd = Math.Min(chunkStart + ChunkSize, sizeBytes);
            var sliceEnd = Math.Min(end, chunkStart + ChunkSize);
            var inAncestor = Resolve(top.Parent, chunk) != null;
            if (offset == chunkStart && sliceEnd >= chunkEnd)
            {
                if (inAncestor)
                {
                    top.Map.Add(chunk);
                }
                else
                {
                    top.Map.Remove(chunk);
                }
                top.Discard(chunkStart, ChunkSize);
            }
            else if (inAncestor || top.Map.Contains(chunk))
            {
                if (!top.Map.Contains(chunk))
                {
                    Acquire(top, chunk, wholeChunkFollows: false);
                }
                top.Discard(offset, sliceEnd - offset);
            }
            offset = sliceEnd;
        }
    }

    /// <summary>Makes the top layer hold the chunk: copies the ancestor's copy up first unless
    /// the caller overwrites the whole chunk anyway (redirect-on-write's one copy).</summary>
    private static void Acquire(Layer top, long chunk, bool wholeChunkFollows)
    {
        if (!wholeChunkFollows && Resolve(top.Parent, chunk) is { } source)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
            try
            {
                source.Read(chunk * ChunkSize, buffer.AsSpan(0, ChunkSize));
                top.Write(chunk * ChunkSize, buffer.AsSpan(0, ChunkSize));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        top.Map.Add(chunk);
    }

    /// <summary>Copies every chunk <paramref name="from"/> holds and <paramref name="into"/> does
    /// not into <paramref name="into"/> (merging a deleted snapshot's layer into its only child).</summary>
    public static void CopyMissing(Layer from, Layer into)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            foreach (var chunk in from.Map.Chunks())
            {
                if (!into.Map.Contains(chunk))
                {
                    from.Read(chunk * ChunkSize, buffer.AsSpan(0, ChunkSize));
                    into.Write(chunk * ChunkSize, buffer.AsSpan(0, ChunkSize));
                    into.Map.Add(chunk);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>After a torn tail was cut, regions of chunks the map does not hold may carry data
    /// from records that were lost; punching them restores the invariant that such regions are
    /// holes, so a later partial write into a fresh chunk cannot expose them.</summary>
    public static void PunchUnheld(Layer layer)
    {
        var size = RandomAccess.GetLength(layer.Handle);
        long next = 0;
        foreach (var chunk in layer.Map.Chunks().Append(long.MaxValue / ChunkSize))
        {
            var start = next * ChunkSize;
            var end = Math.Min(chunk * ChunkSize, size);
            if (end > start)
            {
                layer.Discard(start, end - start);
            }
            if (chunk * ChunkSize >= size)
            {
                break;
            }
            next = chunk + 1;
        }
    }
}
