using System.Runtime.InteropServices;

namespace CsiDriver.Node;

/// <summary>statvfs(3) of a mounted file system: the bytes and inodes NodeGetVolumeStats reports.</summary>
public readonly partial record struct FileSystemUsage(long TotalBytes, long AvailableBytes, long UsedBytes, long TotalInodes, long FreeInodes, long UsedInodes)
{
    public static FileSystemUsage Of(string path)
    {
        if (statvfs(path, out var s) != 0)
        {
            throw new IOException($"statvfs {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
        var unit = (long)s.FragmentSize;
        return new FileSystemUsage(
            (long)s.Blocks * unit,
            (long)s.BlocksAvailable * unit,
            (long)(s.Blocks - s.BlocksFree) * unit,
            (long)s.Files,
            (long)s.FilesFree,
            (long)(s.Files - s.FilesFree));
    }

    /// <summary>struct statvfs as glibc lays it out on 64-bit Linux.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct StatVfs
    {
        public ulong BlockSize;
        public ulong FragmentSize;
        public ulong Blocks;
        public ulong BlocksFree;
        public ulong BlocksAvailable;
        public ulong Files;
        public ulong FilesFree;
        public ulong FilesAvailable;
        public ulong FileSystemId;
        public ulong Flags;
        public ulong MaxNameLength;
        private readonly long _spare0;
        private readonly long _spare1;
        private readonly long _spare2;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statvfs(string path, out StatVfs buffer);
}
