using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace CsiDriver.Engine;

/// <summary>The few libc calls .NET does not offer: fdatasync (durability without a metadata
/// write per flush), hole punching (TRIM releases space), space reservation (a journal segment's
/// blocks up front) and directory fsync (a rename or a new file is durable only once its
/// directory is). A failure is an <see cref="IOException"/> whose HResult is the errno, as .NET
/// itself reports I/O errors on Linux (so ENOSPC is recognised the same way everywhere).</summary>
internal static partial class Native
{
    private const int FallocKeepSize = 0x01;
    private const int FallocPunchHole = 0x02;
    private const int OpenReadOnly = 0;
    private const int OpenDirectory = 0x10000;
    private const int ErrorNotSupported = 95;
    private const int ErrorNoSpace = 28;
    private const int ErrorFileTooBig = 27;
    private const int ErrorQuota = 122;
    private const uint SyncFileRangeWrite = 0x2;
    private const int AdviseWillNeed = 3;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fdatasync(nint fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(nint fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fallocate(nint fd, int mode, long offset, long length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sync_file_range(nint fd, long offset, long length, uint flags);

    [LibraryImport("libc")]
    private static partial int posix_fadvise(nint fd, long offset, long length, int advice);

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
                throw Failure("fdatasync");
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
                throw Failure("sync_file_range(WRITE)");
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

    /// <summary>Starts reading [offset, offset+length) of the file into the page cache without
    /// waiting for it (POSIX_FADV_WILLNEED). A hint: a file system that declines is not an error.</summary>
    public static void StartReadahead(SafeFileHandle handle, long offset, long length)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            posix_fadvise(handle.DangerousGetHandle(), offset, length, AdviseWillNeed);
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
            return Marshal.GetLastPInvokeError() == ErrorNotSupported ? false : throw Failure("fallocate(PUNCH_HOLE)");
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Allocates [offset, offset+length) of the file without changing its length, so
    /// later writes there need no allocation; false when the file system has not the space (or
    /// cannot reserve): a reservation is a hint, writes still allocate what they need.</summary>
    public static bool Reserve(SafeFileHandle handle, long offset, long length)
    {
        if (length <= 0)
        {
            return true;
        }
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (fallocate(handle.DangerousGetHandle(), FallocKeepSize, offset, length) == 0)
            {
                return true;
            }
            return Marshal.GetLastPInvokeError() is ErrorNoSpace or ErrorFileTooBig or ErrorQuota or ErrorNotSupported
                ? false
                : throw Failure("fallocate");
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>True for the errors of a full (or over-quota) file system.</summary>
    public static bool IsDiskFull(Exception exception) =>
        exception is IOException { HResult: ErrorNoSpace or ErrorFileTooBig or ErrorQuota };

    public static void SyncDirectory(string path)
    {
        var fd = open(path, OpenReadOnly | OpenDirectory);
        if (fd < 0)
        {
            throw Failure($"open of directory '{path}'");
        }
        try
        {
            if (fsync(fd) != 0)
            {
                throw Failure($"fsync of directory '{path}'");
            }
        }
        finally
        {
            close(fd);
        }
    }

    private static IOException Failure(string call)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call} failed: {new Win32Exception(errno).Message}", errno);
    }
}
