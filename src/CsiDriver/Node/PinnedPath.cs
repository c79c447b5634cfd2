using System.Runtime.InteropServices;
using CsiDriver.Rpc;
using Microsoft.Win32.SafeHandles;

namespace CsiDriver.Node;

/// <summary>
/// A staging or target path held by its directory: the directory that holds the last segment
/// is open (O_PATH), reached from the kubelet directory by openat2 with RESOLVE_BENEATH and
/// RESOLVE_NO_SYMLINKS, so a link swapped onto the path fails the resolution instead of moving
/// it. Everything the node then does there (make, mount, unmount, remove) names the last
/// segment relative to that open directory, never the path again, so what was checked is what
/// is mounted. Resolution failures are refusals with the path named, never a raw error.
/// </summary>
public sealed partial class PinnedPath : IDisposable
{
    private const int Enoent = 2;
    private const int Eexist = 17;
    private const int Exdev = 18;
    private const int Enotdir = 20;
    private const int Eloop = 40;
    private const int Eagain = 11;
    private const ulong OPath = 0x200000;
    private const ulong OCloexec = 0x80000;
    private const int OWrite = 1;
    private const int OCreateExclusive = 0x40 | 0x80;
    private const ulong ResolveNoSymlinks = 4;
    private const ulong ResolveBeneath = 8;
    private const int AtRemoveDirectory = 0x200;
    private const int AtCurrentDirectory = -100;
    private const long SysOpenat2 = 437; // the same number on every architecture (syscalls from 424 on are shared)

    private PinnedPath(string path, string field, SafeFileHandle directory, string name)
    {
        Path = path;
        Field = field;
        Directory = directory;
        Name = name;
    }

    /// <summary>The path as the request gave it.</summary>
    public string Path { get; }

    /// <summary>The request field that named it, for messages.</summary>
    public string Field { get; }

    /// <summary>The last segment, inside <see cref="Directory"/>.</summary>
    public string Name { get; }

    /// <summary>The open directory holding <see cref="Name"/>.</summary>
    public SafeFileHandle Directory { get; }

    /// <summary>The path by which the kernel names the entry now (the open directory's current
    /// place): what /proc/self/mountinfo shows for a mount there.</summary>
    public string CurrentPath =>
        $"{new FileInfo(ProcPath(Directory)).LinkTarget?.TrimEnd('/')}/{Name}";

    /// <summary>The entry reached through the open directory; as the last segment of a path,
    /// the caller must not follow it if it is a link (umount2 UMOUNT_NOFOLLOW).</summary>
    public string EntryThroughDirectory => $"{ProcPath(Directory)}/{Name}";

    /// <summary>Opens the directory holding <paramref name="relative"/> (a path below the open
    /// <paramref name="root"/>, without "." or ".." segments) beneath the root.</summary>
    internal static PinnedPath Open(string root, string relative, string path, string field)
    {
        // The kubelet directory itself is resolved as configured: on some hosts it is a link.
        var descriptor = openat(new SafeFileHandle(AtCurrentDirectory, ownsHandle: false), root, (int)(OPath | OCloexec), 0);
        if (descriptor < 0)
        {
            throw Unresolved(Marshal.GetLastPInvokeError(), $"the kubelet directory {root}", StatusCode.FailedPrecondition, "");
        }
        using var rootDirectory = new SafeFileHandle(descriptor, ownsHandle: true);
        var slash = relative.LastIndexOf('/');
        var holding = slash < 0 ? "." : relative[..slash];
        var directory = TryOpenBeneath(rootDirectory, holding, out var errno)
            ?? throw Unresolved(errno, $"the directory holding {field} {path}", absent: StatusCode.FailedPrecondition, "; the CO creates it");
        return new PinnedPath(path, field, directory, relative[(slash + 1)..]);
    }

    /// <summary>Opens the entry itself (O_PATH, not following a link), or null when it does not exist.</summary>
    public SafeFileHandle? OpenEntry() =>
        TryOpenBeneath(Directory, Name, out var errno) ?? (errno == Enoent ? null : throw Unresolved(errno, $"{Field} {Path}", StatusCode.NotFound, absentAdvice: ""));

    /// <summary>Opens the entry, which must exist.</summary>
    public SafeFileHandle RequireEntry(string absent) =>
        OpenEntry() ?? throw new RpcException(StatusCode.InvalidArgument, $"{Field} {Path} does not exist; {absent}");

    /// <summary>Whether an open entry is a directory (stat through its descriptor).</summary>
    public static bool IsDirectory(SafeFileHandle entry) => System.IO.Directory.Exists(ProcPath(entry));

    /// <summary>Makes the entry as a directory or an empty file; one already there is left as it is.</summary>
    public void Make(bool directory)
    {
        if (directory)
        {
            if (mkdirat(Directory, Name, Convert.ToUInt32("777", 8)) != 0 && Marshal.GetLastPInvokeError() != Eexist)
            {
                throw Refused("could not be made as a directory");
            }
            return;
        }
        var descriptor = openat(Directory, Name, OWrite | OCreateExclusive | (int)OCloexec, Convert.ToUInt32("666", 8));
        if (descriptor >= 0)
        {
            close(descriptor);
        }
        else if (Marshal.GetLastPInvokeError() != Eexist)
        {
            throw Refused("could not be made as a file");
        }
    }

    /// <summary>Removes the entry (an empty directory or a file); one not there is fine.</summary>
    public void Remove(bool directory)
    {
        if (unlinkat(Directory, Name, directory ? AtRemoveDirectory : 0) != 0 && Marshal.GetLastPInvokeError() != Enoent)
        {
            throw Refused("could not be removed");
        }
    }

    public void Dispose() => Directory.Dispose();

    /// <summary>The magic link through which a descriptor is named as a path.</summary>
    public static string ProcPath(SafeFileHandle handle) => $"/proc/self/fd/{handle.DangerousGetHandle()}";

    private RpcException Refused(string what)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new RpcException(StatusCode.FailedPrecondition, $"{Field} {Path} {what}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    /// <summary>openat2 beneath <paramref name="from"/>, following no link; null and the errno
    /// when it fails.</summary>
    private static SafeFileHandle? TryOpenBeneath(SafeFileHandle from, string relative, out int errno)
    {
        var how = new OpenHow { Flags = OPath | OCloexec, Resolve = ResolveBeneath | ResolveNoSymlinks };
        for (var attempt = 0; ; attempt++)
        {
            var descriptor = openat2(SysOpenat2, from, relative, ref how, (nuint)Marshal.SizeOf<OpenHow>());
            if (descriptor >= 0)
            {
                errno = 0;
                return new SafeFileHandle((IntPtr)descriptor, ownsHandle: true);
            }
            errno = Marshal.GetLastPInvokeError();
            // EAGAIN: a rename elsewhere raced the resolution, and the kernel asks for a retry.
            if (errno != Eagain || attempt == 3)
            {
                return null;
            }
        }
    }

    /// <summary>Why a path did not resolve, as a refusal naming it.</summary>
    private static RpcException Unresolved(int errno, string what, StatusCode absent, string absentAdvice) => errno switch
    {
        Eloop => new(StatusCode.InvalidArgument, $"{what} is reached through a symbolic link; the node follows none below the kubelet directory"),
        Exdev => new(StatusCode.InvalidArgument, $"{what} leads out of the kubelet directory"),
        Enotdir => new(StatusCode.InvalidArgument, $"{what} has a segment that is not a directory"),
        Enoent => new(absent, $"{what} does not exist{absentAdvice}"),
        Eagain => new(StatusCode.FailedPrecondition, $"{what} kept changing while it was resolved; try again"),
        _ => new(StatusCode.FailedPrecondition, $"{what} could not be opened: {Marshal.GetPInvokeErrorMessage(errno)}"),
    };

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long openat2(long number, SafeFileHandle directory, string path, ref OpenHow how, nuint size);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int openat(SafeFileHandle directory, string path, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdirat(SafeFileHandle directory, string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int unlinkat(SafeFileHandle directory, string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int descriptor);
}
