using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace CsiDriver.Engine;

/// <summary>The few libc calls .NET does not offer: fdatasync (durability without a metadata
/// write per flush), hole punching (TRIM releases space) and directory fsync (a rename or a
/// new file is durable only once its directory is).</summary>
internal static partial class Native
{
    private const int FallocKeepSize = 0x01;
    private const int FallocPunchHole = 0x02;
    private const int OpenReadOnly = 0;
    private const int OpenDirectory = 0x10000;
    private const int ErrorNotSupported = 95;
    private const uint SyncFileRangeWrite = 0x2;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fdatasync(nint fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(nint fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fallocate(nint fd, int mode, long offset, long length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sync_file_range(nint fd, long offset, long length, uint flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(nint fd);

    /// <summary>Makes the file's data durable (and its size, which fdatasync includes).</summary>
    public static void DataSync(SafeFileHandle handle)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (fdatasync(handle.DangerousGetHandle()) != 0)
            {
                throw new IOException("fdatasync failed", new Win32Exception(Marshal.GetLastPInvokeError()));
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Starts writeback of the file's dirty pages without waiting for it (and without
    /// any durability promise): a later fdatasync then finds little left to write.</summary>
    public static void StartWriteback(SafeFileHandle handle)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (sync_file_range(handle.DangerousGetHandle(), 0, 0, SyncFileRangeWrite) != 0)
            {
                throw new IOException("sync_file_range(WRITE) failed", new Win32Exception(Marshal.GetLastPInvokeError()));
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Deallocates the range so it reads as zeroes; returns false when the file
    /// system cannot punch holes (the caller then writes zeroes).</summary>
    public static bool PunchHole(SafeFileHandle handle, long offset, long length)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (fallocate(handle.DangerousGetHandle(), FallocPunchHole | FallocKeepSize, offset, length) == 0)
            {
                return true;
            }
            var error = Marshal.GetLastPInvokeError();
            return error == ErrorNotSupported
                ? false
                : throw new IOException("fallocate(PUNCH_HOLE) failed", new Win32Exception(error));
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    public static void SyncDirectory(string path)
    {
        var fd = open(path, OpenReadOnly | OpenDirectory);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory '{path}'", new Win32Exception(Marshal.GetLastPInvokeError()));
        }
        try
        {
            if (fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory '{path}' failed", new Win32Exception(Marshal.GetLastPInvokeError()));
            }
        }
        finally
        {
            close(fd);
        }
    }
}
