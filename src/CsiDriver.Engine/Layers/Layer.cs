using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace CsiDriver.Engine.Layers;

/// <summary>
/// One layer of a volume's redirect-on-write chain: a sparse data file where chunk i lives at
/// byte i × <see cref="ChunkRange.ChunkSize"/>, and a <see cref="ChunkMap"/> saying which chunks
/// it holds. A volume writes only its top layer; a snapshot freezes the top layer and the volume
/// continues in a new, empty one whose parent it is. A chunk not held reads from the nearest
/// ancestor holding it, or as zeroes.
/// On-disk invariant: a chunk region of the data file that the map does not hold is never read;
/// a chunk becomes held only once its whole region has been written (copied up from the
/// ancestor, or fully overwritten, or it has no ancestor copy and its unwritten parts are holes
/// — see <see cref="LayerChain"/>).
/// </summary>
internal sealed class Layer
{
    public Layer(long id, string directory, ChunkMap map)
    {
        Id = id;
        DataPath = Path.Combine(directory, $"{id:D8}.data");
        MapPath = Path.Combine(directory, $"{id:D8}.map");
        Map = map;
        Handle = File.OpenHandle(DataPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
    }

    public long Id { get; }

    public string DataPath { get; }

    public string MapPath { get; }

    public ChunkMap Map { get; }

    public SafeFileHandle Handle { get; }

    public Layer? Parent { get; set; }

    /// <summary>Layers whose parent this is.</summary>
    public int Children { get; set; }

    /// <summary>The volume writing into this layer (its top), or null once frozen.</summary>
    public Volume? Owner { get; set; }

    /// <summary>The snapshot reading from this layer, if any.</summary>
    public Snapshot? Snapshot { get; set; }

    /// <summary>Journal whose records land here while it is a top layer, and the first sequence
    /// of that journal that does: recovery replays a record into the topmost layer of its volume
    /// whose journal matches and whose start sequence is not after the record's.</summary>
    public string Journal { get; set; } = "";

    public long StartSequence { get; set; }

    /// <summary>Bytes visible through this layer: the volume's size while it is a top layer,
    /// the size at freezing afterwards.</summary>
    public long SizeBytes { get; set; }

    /// <summary>Data written since the last checkpoint's sync.</summary>
    public bool DataDirty { get; set; }

    /// <summary>Nothing refers to it any more: its files can go.</summary>
    public bool IsUnreferenced => Owner == null && Snapshot == null && Children == 0;

    public void Read(long offset, Span<byte> buffer)
    {
        var done = 0;
        while (done < buffer.Length)
        {
            var n = RandomAccess.Read(Handle, buffer[done..], offset + done);
            if (n == 0)
            {
                buffer[done..].Clear();
                return;
            }
            done += n;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        RandomAccess.Write(Handle, data, offset);
        DataDirty = true;
    }

    /// <summary>Makes [offset, offset+length) read as zeroes and releases its space.</summary>
    public void Discard(long offset, long length)
    {
        DataDirty = true;
        if (Native.PunchHole(Handle, offset, length))
        {
            return;
        }
        var zeroes = ArrayPool<byte>.Shared.Rent(ChunkRange.ChunkSize);
        try
        {
            zeroes.AsSpan().Clear();
            for (long done = 0; done < length; done += ChunkRange.ChunkSize)
            {
                RandomAccess.Write(Handle, zeroes.AsSpan(0, (int)Math.Min(ChunkRange.ChunkSize, length - done)), offset + done);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(zeroes);
        }
    }

    /// <summary>Removes the layer's files (the handle stays valid for readers still holding it).</summary>
    public void DeleteFiles()
    {
        File.Delete(DataPath);
        File.Delete(MapPath);
    }
}
