using System.Buffers.Binary;

namespace CsiDriver.Engine.Metadata;

/// <summary>
/// The frame around every small metadata file (catalog, checkpoint, chunk maps, dirty-chunk sets).
/// Version 1 unless the file kind versions itself (the checkpoint: see its document):
/// <code>
/// [0,4)   magic (per file kind)      [4,6)  version      [6,8) minimum compatible version
/// [8,12)  payload length             [12,16) CRC-32C over bytes [0,12) then the payload
/// [16,..) payload
/// </code>
/// On-disk invariant: a metadata file is replaced only by writing <c>name.tmp</c>, fsyncing
/// it, renaming it over <c>name</c> and fsyncing the directory, so after any crash the file
/// holds either the old or the new content in full.
/// </summary>
public static class MetadataFile
{
    public const int HeaderSize = 16;
    public const ushort Version = 1;
    public const ushort MinCompatibleVersion = 1;

    public static void Write(string path, uint magic, ReadOnlySpan<byte> payload) =>
        Write(path, magic, payload, Version, MinCompatibleVersion);

    /// <summary>Writes a file kind whose payload has its own version (see its document).</summary>
    /// <exception cref="InsufficientSpaceException">The file system is full; the old content stands.</exception>
    public static void Write(string path, uint magic, ReadOnlySpan<byte> payload, ushort version, ushort minCompatibleVersion)
    {
        var bytes = new byte[HeaderSize + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, magic);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(4), version);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(6), minCompatibleVersion);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), payload.Length);
        payload.CopyTo(bytes.AsSpan(HeaderSize));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), Crc32C.Compute(bytes.AsSpan(0, 12), payload));

        var temporary = path + ".tmp";
        try
        {
            using (var handle = File.OpenHandle(temporary, FileMode.Create, FileAccess.Write))
            {
                RandomAccess.Write(handle, bytes, 0);
                Native.DataSync(handle);
            }
        }
        catch (IOException e)
        {
            File.Delete(temporary); // the old content stands; a partial copy would only hold space
            throw Native.IsDiskFull(e) ? new InsufficientSpaceException($"no space to write {path}", e) : e;
        }
        File.Move(temporary, path, overwrite: true);
        Native.SyncDirectory(Path.GetDirectoryName(path)!);
    }

    /// <summary>Reads and checks the file; null when it does not exist.</summary>
    /// <exception cref="CorruptionException">Magic, version, length or checksum do not match.</exception>
    public static byte[]? Read(string path, uint magic) => Read(path, magic, Version);

    /// <summary>Reads a file kind whose reader is at <paramref name="readerVersion"/>.</summary>
    public static byte[]? Read(string path, uint magic, ushort readerVersion)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        var bytes = File.ReadAllBytes(path);
        return TryParse(bytes, magic, readerVersion, out var payload, out var error)
            ? payload.ToArray()
            : throw new CorruptionException($"{path}: {error}");
    }

    public static bool TryParse(ReadOnlySpan<byte> bytes, uint magic, out ReadOnlySpan<byte> payload, out string error) =>
        TryParse(bytes, magic, Version, out payload, out error);

    public static bool TryParse(ReadOnlySpan<byte> bytes, uint magic, ushort readerVersion, out ReadOnlySpan<byte> payload, out string error)
    {
        payload = default;
        if (bytes.Length < HeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != magic)
        {
            error = "bad magic or short header";
            return false;
        }
        var minCompatible = BinaryPrimitives.ReadUInt16LittleEndian(bytes[6..]);
        if (minCompatible > readerVersion)
        {
            error = $"written by format version {BinaryPrimitives.ReadUInt16LittleEndian(bytes[4..])}, needs reader version {minCompatible}; this reader is {readerVersion}";
            return false;
        }
        var length = BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]);
        if (length < 0 || length != bytes.Length - HeaderSize)
        {
            error = $"payload length {length} does not match file length {bytes.Length}";
            return false;
        }
        payload = bytes[HeaderSize..];
        if (Crc32C.Compute(bytes[..12], payload) != BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]))
        {
            error = "checksum mismatch";
            return false;
        }
        error = "";
        return true;
    }
}
