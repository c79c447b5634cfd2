using CsiDriver.Engine.Tests.Nbd;

namespace CsiDriver.Engine.Tests;

/// <summary>
/// A small ext4 file system of the test's own: a file in the temp directory, formatted and
/// mounted on a loop device, so a disk-full case has a disk that really fills. Formatted with no
/// blocks reserved for root (the tests run as root, which could otherwise write past "full"), in
/// 4 KiB blocks (the size the fillers write in).
/// Disposing thaws it if frozen, unmounts this mount only and deletes the file.
/// </summary>
internal sealed class LoopFileSystem : IDisposable
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(60);
    private readonly string _root;
    private const int NoSpace = 28; // ENOSPC, as .NET puts it in IOException.HResult on Linux
    private int _fillers;
    private bool _frozen;

    private LoopFileSystem(string root, string mountPoint)
    {
        _root = root;
        Path = mountPoint;
    }

    /// <summary>The mount point.</summary>
    public string Path { get; }

    /// <summary>Bytes anyone may still write.</summary>
    public long FreeBytes => new DriveInfo(Path).AvailableFreeSpace;

    /// <summary>Bytes in use: everything but the free space.</summary>
    public long UsedBytes => new DriveInfo(Path).TotalSize - FreeBytes;

    public static async Task<LoopFileSystem> CreateAsync(long sizeBytes)
    {
        var root = Directory.CreateTempSubdirectory("formation-loopfs-").FullName;
        var image = System.IO.Path.Combine(root, "image");
        var mountPoint = Directory.CreateDirectory(System.IO.Path.Combine(root, "mnt")).FullName;
        using (var file = File.Create(image))
        {
            file.SetLength(sizeBytes);
        }
        await ExternalTool.RunAsync("mkfs.ext4", ["-q", "-F", "-b", "4096", "-m", "0", image], ToolTimeout);
        await ExternalTool.RunAsync("mount", ["-o", "loop", image, mountPoint], ToolTimeout);
        return new LoopFileSystem(root, mountPoint);
    }

    /// <summary>Takes every free byte with a file of its own: afterwards nothing more can be written.</summary>
    public void Fill()
    {
        Settle();
        // Delayed allocation may hand blocks back once the data is written out: write until the
        // file system refuses even after a sync.
        while (FreeBytes > 0 && Consume(long.MaxValue) > 0)
        {
        }
    }

    /// <summary>Takes <paramref name="bytes"/> of the free space (all of it with long.MaxValue)
    /// with a file of its own, written and synced; returns the bytes written.</summary>
    public long Consume(long bytes)
    {
        var block = new byte[1 << 20];
        Array.Fill(block, (byte)0x5A);
        using var file = File.OpenHandle(System.IO.Path.Combine(Path, $"filler-{++_fillers}"), FileMode.CreateNew, FileAccess.Write);
        long written = 0;
        while (written < bytes)
        {
            var length = (int)Math.Min(bytes - written, bytes - written >= block.Length ? block.Length : 4096);
            try
            {
                RandomAccess.Write(file, block.AsSpan(0, length), written);
            }
            catch (IOException e) when (e.HResult == NoSpace && bytes == long.MaxValue)
            {
                if (length == 4096)
                {
                    break;
                }
                block = block[..4096]; // the last megabyte a block at a time
                continue;
            }
            written += length;
        }
        RandomAccess.FlushToDisk(file);
        return written;
    }

    /// <summary>Commits the file system's journal (syncfs): blocks of files deleted before count
    /// as free only once that happened, so free space read after this does not grow by itself.</summary>
    public void Settle() => ExternalTool.RunAsync("sync", ["--file-system", Path], ToolTimeout).GetAwaiter().GetResult();

    /// <summary>Freezes the file system (fsfreeze): from then on every change to it (a write, a
    /// rename, a delete) waits until <see cref="Thaw"/>; reads and syncs of what it holds go on.</summary>
    public void Freeze()
    {
        ExternalTool.RunAsync("fsfreeze", ["--freeze", Path], ToolTimeout).GetAwaiter().GetResult();
        _frozen = true;
    }

    public void Thaw()
    {
        if (_frozen)
        {
            ExternalTool.RunAsync("fsfreeze", ["--unfreeze", Path], ToolTimeout).GetAwaiter().GetResult();
            _frozen = false;
        }
    }

    /// <summary>Gives back what <see cref="Fill"/> and <see cref="Consume"/> took.</summary>
    public void Release()
    {
        foreach (var filler in Directory.GetFiles(Path, "filler-*"))
        {
            File.Delete(filler);
        }
    }

    /// <summary>Unmounts; if a failed test left something open on it, detaches it lazily (the
    /// kernel finishes once the last file closes), so no mount of ours outlives the test.</summary>
    public void Dispose()
    {
        Thaw();
        var unmounted = ExternalTool.TryRunAsync("umount", [Path], ToolTimeout).GetAwaiter().GetResult();
        if (unmounted.ExitCode != 0)
        {
            ExternalTool.RunAsync("umount", ["--lazy", Path], ToolTimeout).GetAwaiter().GetResult();
        }
        Directory.Delete(_root, recursive: true);
    }
}
