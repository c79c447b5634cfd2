using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CsiDriver.Replication;

/// <summary>
/// Every replication this site takes part in, in one small file (<c>replication.catalog</c> in
/// the data directory):
/// <code>
/// [0,4)   magic "FRPC"            [4,6)   version     [6,8) minimum compatible version
/// [8,12)  payload length          [12,16) CRC-32C over bytes [0,12) then the payload
/// [16,..) payload: UTF-8 JSON array of ReplicationRecord
/// </code>
/// On-disk invariant: the file is replaced only by writing <c>replication.catalog.tmp</c>,
/// fsyncing it, renaming it over the catalog and fsyncing the directory, so after any crash
/// it holds the old or the new content in full. A transition persists its record before it
/// reports success.
/// </summary>
public sealed partial class ReplicationCatalog
{
    public const string FileName = "replication.catalog";
    public const uint Magic = 0x43505246; // "FRPC" little-endian
    public const ushort Version = 1;
    public const ushort MinCompatibleVersion = 1;
    public const int HeaderSize = 16;

    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };
    private readonly string _path;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ReplicationRecord> _records;

    private ReplicationCatalog(string path, Dictionary<string, ReplicationRecord> records)
    {
        _path = path;
        _records = records;
    }

    public static ReplicationCatalog Open(string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName);
        var records = new Dictionary<string, ReplicationRecord>(StringComparer.Ordinal);
        if (File.Exists(path))
        {
            if (!TryParse(File.ReadAllBytes(path), out var loaded, out var problem))
            {
                throw new InvalidDataException($"replication catalog {path}: {problem}");
            }
            foreach (var record in loaded)
            {
                records[record.Id] = record;
            }
        }
        return new ReplicationCatalog(path, records);
    }

    public IReadOnlyList<ReplicationRecord> All
    {
        get
        {
            lock (_lock)
            {
                return _records.Values.ToArray();
            }
        }
    }

    public ReplicationRecord? Find(string id)
    {
        lock (_lock)
        {
            return _records.GetValueOrDefault(id);
        }
    }

    public void Save(ReplicationRecord record) => Change(records => records[record.Id] = record);

    public void Remove(string id) => Change(records => records.Remove(id));

    public static bool TryParse(ReadOnlySpan<byte> file, out IReadOnlyList<ReplicationRecord> records, out string problem)
    {
        records = [];
        if (file.Length < HeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(file) != Magic)
        {
            problem = "not a replication catalog (magic)";
            return false;
        }
        var minCompatible = BinaryPrimitives.ReadUInt16LittleEndian(file[6..]);
        if (minCompatible > Version)
        {
            problem = $"written by a newer csidriver (needs version {minCompatible}, this one reads {Version})";
            return false;
        }
        var length = BinaryPrimitives.ReadInt32LittleEndian(file[8..]);
        if (length < 0 || length != file.Length - HeaderSize)
        {
            problem = $"payload length {length} does not match the file ({file.Length} bytes)";
            return false;
        }
        var payload = file[HeaderSize..];
        if (BinaryPrimitives.ReadUInt32LittleEndian(file[12..]) != Checksum(file[..12], payload))
        {
            problem = "checksum mismatch";
            return false;
        }
        records = JsonSerializer.Deserialize<List<ReplicationRecord>>(payload, Json) ?? [];
        problem = "";
        return true;
    }

    /// <summary>The whole file for <paramref name="records"/>.</summary>
    public static byte[] Write(IEnumerable<ReplicationRecord> records)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(records.OrderBy(r => r.Id, StringComparer.Ordinal).ToList(), Json);
        var file = new byte[HeaderSize + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(file, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(4), Version);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(6), MinCompatibleVersion);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(8), payload.Length);
        payload.CopyTo(file.AsSpan(HeaderSize));
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(12), Checksum(file.AsSpan(0, 12), payload));
        return file;
    }

    private void Change(Action<Dictionary<string, ReplicationRecord>> change)
    {
        lock (_lock)
        {
            var next = new Dictionary<string, ReplicationRecord>(_records, StringComparer.Ordinal);
            change(next);
            var temporary = _path + ".tmp";
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write))
            {
                stream.Write(Write(next.Values));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, _path, overwrite: true);
            SyncDirectory(Path.GetDirectoryName(_path)!);
            _records.Clear();
            foreach (var (id, record) in next)
            {
                _records[id] = record;
            }
        }
    }

    /// <summary>CRC-32C (Castagnoli, initial value and final XOR 0xFFFFFFFF) of header then payload.</summary>
    private static uint Checksum(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        var state = uint.MaxValue;
        foreach (var b in header)
        {
            state = BitOperations.Crc32C(state, b);
        }
        foreach (var b in payload)
        {
            state = BitOperations.Crc32C(state, b);
        }
        return ~state;
    }

    private static void SyncDirectory(string path)
    {
        var fd = open(path, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory '{path}' to sync it (errno {Marshal.GetLastPInvokeError()})");
        }
        try
        {
            if (fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory '{path}' failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
