namespace CsiDriver.ConformanceTests.Infrastructure;

/// <summary>The regular files under a mount as relative path → content, for comparing what a
/// volume holds with what a test wrote; and byte ranges of block devices.</summary>
public static class FileTrees
{
    /// <summary>mkfs.ext4 creates this; it is the file system's, not the test's.</summary>
    private const string LostAndFound = "lost+found";

    public static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>Every regular file, hidden ones included: the default enumeration leaves out
    /// dot files, which a test may well write.</summary>
    public static Dictionary<string, byte[]> Read(string root) =>
        Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.None })
            .Select(path => Path.GetRelativePath(root, path))
            .Where(relative => relative.Split('/')[0] != LostAndFound)
            .ToDictionary(relative => relative, relative => File.ReadAllBytes(Path.Combine(root, relative)));

    public static void Write(string root, IReadOnlyDictionary<string, byte[]> files)
    {
        foreach (var (relative, data) in files)
        {
            var path = Path.Combine(root, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, data);
        }
    }

    /// <summary>Asserts the tree under <paramref name="root"/> has exactly these files with exactly
    /// these contents: nothing missing, nothing extra.</summary>
    public static void AssertHolds(IReadOnlyDictionary<string, byte[]> expected, string root, string what)
    {
        var actual = Read(root);
        Assert.True(expected.Keys.Order(StringComparer.Ordinal).SequenceEqual(actual.Keys.Order(StringComparer.Ordinal)),
            $"{what}: expected files [{string.Join(", ", expected.Keys.Order(StringComparer.Ordinal))}], found [{string.Join(", ", actual.Keys.Order(StringComparer.Ordinal))}]");
        foreach (var (relative, data) in expected)
        {
            Assert.True(data.AsSpan().SequenceEqual(actual[relative]),
                $"{what}: {relative} differs (expected {data.Length} bytes, found {actual[relative].Length})");
        }
    }

    /// <summary>Writes at an offset of a block device and waits until the device has it (fsync),
    /// as a database does before it acknowledges a commit.</summary>
    public static void WriteDurably(string device, long offset, byte[] data)
    {
        using var stream = new FileStream(device, FileMode.Open, FileAccess.ReadWrite);
        stream.Seek(offset, SeekOrigin.Begin);
        stream.Write(data);
        stream.Flush(flushToDisk: true);
    }

    public static byte[] ReadAt(string device, long offset, int length)
    {
        using var stream = new FileStream(device, FileMode.Open, FileAccess.Read);
        stream.Seek(offset, SeekOrigin.Begin);
        var data = new byte[length];
        stream.ReadExactly(data);
        return data;
    }
}
