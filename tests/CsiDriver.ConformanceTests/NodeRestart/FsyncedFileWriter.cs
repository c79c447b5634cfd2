using System.Security.Cryptography;

namespace CsiDriver.ConformanceTests.NodeRestart;

/// <summary>A pod's file writer: 64 KiB files written one after another into a directory, each
/// fsynced, and the checksum of every file whose fsync returned remembered — those must survive
/// anything short of a lost disk.</summary>
public sealed class FsyncedFileWriter : PodWriter
{
    public const int FileSize = 64 * 1024;

    private readonly string _directory;
    private readonly Dictionary<string, byte[]> _durable = new(StringComparer.Ordinal);
    private readonly Random _random = new(15);
    private readonly byte[] _data = new byte[FileSize];

    public FsyncedFileWriter(string directory)
        : base("fsynced-file-writer", limit: 4000)
    {
        _directory = directory;
        Start();
    }

    /// <summary>Reads every durable file back from <paramref name="directory"/> (the same file
    /// system, mounted afresh) and returns those whose content differs or is missing. Call once
    /// the writer has stopped.</summary>
    public List<string> Damaged(string directory) =>
        _durable
            .Where(file => !File.Exists(Path.Combine(directory, file.Key))
                || !SHA256.HashData(File.ReadAllBytes(Path.Combine(directory, file.Key))).SequenceEqual(file.Value))
            .Select(file => file.Key)
            .ToList();

    protected override void Write(long n)
    {
        _random.NextBytes(_data);
        var name = $"file-{n:D5}.bin";
        using (var file = new FileStream(Path.Combine(_directory, name), FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            file.Write(_data);
            file.Flush(flushToDisk: true);
        }
        _durable[name] = SHA256.HashData(_data);
    }
}
