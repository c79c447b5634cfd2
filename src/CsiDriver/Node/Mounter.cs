using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace CsiDriver.Node;

/// <summary>
/// mount(2), umount2(2) and the new mount API (open_tree, mount_setattr, move_mount) through
/// libc, always at a <see cref="PinnedPath"/>. Generic mount flags named in a capability's
/// mount_flags become MS_* bits; anything else is handed to the file system as its data
/// string, as mount(8) does.
/// </summary>
public static partial class Mounter
{
    private const ulong MsReadOnly = 1;
    private const ulong MsNoSuid = 2;
    private const ulong MsNoDev = 4;
    private const ulong MsNoExec = 8;
    private const ulong MsSynchronous = 16;
    private const ulong MsDirSync = 128;
    private const ulong MsNoAtime = 1024;
    private const ulong MsNoDirAtime = 2048;
    private const ulong MsRelAtime = 1 << 21;
    private const ulong MsStrictAtime = 1 << 24;
    private const ulong MsLazyTime = 1 << 25;
    private const int MntDetach = 2;
    private const int UmountNoFollow = 8;
    private const uint OpenTreeClone = 1;
    private const uint OpenTreeCloexec = 0x80000;
    private const uint AtSymlinkNoFollow = 0x100;
    private const uint AtEmptyPath = 0x1000;
    private const uint MoveMountFromEmptyPath = 4;
    private const uint MoveMountToEmptyPath = 0x40;
    private const ulong MountAttributeReadOnly = 1;
    private const int Einval = 22;
    private static readonly SafeFileHandle CurrentDirectory = new(-100, ownsHandle: false); // AT_FDCWD

    private static readonly Dictionary<string, ulong> Flags = new(StringComparer.Ordinal)
    {
        ["ro"] = MsReadOnly, ["rw"] = 0, ["nosuid"] = MsNoSuid, ["nodev"] = MsNoDev, ["noexec"] = MsNoExec,
        ["sync"] = MsSynchronous, ["dirsync"] = MsDirSync, ["noatime"] = MsNoAtime, ["nodiratime"] = MsNoDirAtime,
        ["relatime"] = MsRelAtime, ["strictatime"] = MsStrictAtime, ["lazytime"] = MsLazyTime, ["defaults"] = 0,
    };

    /// <summary>Mounts a file system on <paramref name="device"/> at the directory open as
    /// <paramref name="target"/> (a <see cref="PinnedPath"/> entry), given to mount(2) through
    /// its descriptor; <paramref name="targetPath"/> names it in messages.</summary>
    public static void MountFileSystem(string device, SafeFileHandle target, string targetPath, string fsType, IEnumerable<string> options, bool readOnly) =>
        MountFileSystem(device, PinnedPath.ProcPath(target), targetPath, fsType, options, readOnly);

    /// <summary>Mounts a file system at <paramref name="target"/>, a path the driver owns (its
    /// data directory), by name; kubelet's paths go through <see cref="PinnedPath"/>.</summary>
    public static void MountFileSystem(string device, string target, string fsType, IEnumerable<string> options, bool readOnly) =>
        MountFileSystem(device, target, target, fsType, options, readOnly);

    private static void MountFileSystem(string device, string target, string name, string fsType, IEnumerable<string> options, bool readOnly)
    {
        var (flags, data) = Split(options);
        if (readOnly)
        {
            flags |= MsReadOnly;
        }
        Check(mount(device, target, fsType, flags, data.Length == 0 ? null : data), $"mount {device} on {name} as {fsType}");
    }

    /// <summary>Bind-mounts <paramref name="source"/> (a directory or a device file; a name
    /// relative to <paramref name="sourceDirectory"/>, not followed if a link, or an absolute
    /// path when that is null) onto the entry open as <paramref name="target"/>, with the new
    /// mount API: the copy is made detached, made read-only when asked, then attached to the
    /// target's descriptor, so no path is resolved twice and no writable moment exists.</summary>
    public static void Bind(SafeFileHandle? sourceDirectory, string source, SafeFileHandle target, string targetPath, bool readOnly)
    {
        var copy = open_tree(sourceDirectory ?? CurrentDirectory, source, OpenTreeClone | OpenTreeCloexec | AtSymlinkNoFollow);
        if (copy < 0)
        {
            Fail($"bind {source} on {targetPath}");
        }
        using var tree = new SafeFileHandle(copy, ownsHandle: true);
        if (readOnly)
        {
            var attributes = new MountAttributes { Set = MountAttributeReadOnly };
            Check(mount_setattr(tree, "", AtEmptyPath, ref attributes, (nuint)Marshal.SizeOf<MountAttributes>()), $"make the bind of {source} read-only");
        }
        Check(move_mount(tree, "", target, "", MoveMountFromEmptyPath | MoveMountToEmptyPath), $"bind {source} on {targetPath}");
    }

    /// <summary>Unmounts the topmost mount at the pinned <paramref name="target"/>, named through
    /// its open directory and not followed if it is a link; with <paramref name="lazy"/> detaches
    /// it even while in use (for repairing a lost attachment). Not mounted is not an error.</summary>
    public static void Unmount(PinnedPath target, bool lazy = false) =>
        Unmount(target.EntryThroughDirectory, target.Path, (lazy ? MntDetach : 0) | UmountNoFollow);

    /// <summary>Unmounts the topmost mount at <paramref name="target"/>, a path the driver owns
    /// (its data directory), by name; kubelet's paths go through <see cref="PinnedPath"/>.</summary>
    public static void Unmount(string target, bool lazy = false) =>
        Unmount(target, target, lazy ? MntDetach : 0);

    private static void Unmount(string target, string name, int flags)
    {
        if (umount2(target, flags) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != Einval)
            {
                throw new IOException($"unmount {name}: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
    }

    private static (ulong Flags, string Data) Split(IEnumerable<string> options)
    {
        ulong flags = 0;
        var data = new List<string>();
        foreach (var option in options.SelectMany(o => o.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            if (Flags.TryGetValue(option, out var bit))
            {
                flags |= bit;
            }
            else
            {
                data.Add(option);
            }
        }
        return (flags, string.Join(',', data));
    }

    private static void Check(int result, string what)
    {
        if (result != 0)
        {
            Fail(what);
        }
    }

    private static void Fail(string what) =>
        throw new IOException($"{what}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mount(string source, string target, string? fileSystemType, ulong flags, string? data);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int umount2(string target, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open_tree(SafeFileHandle directory, string path, uint flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mount_setattr(SafeFileHandle tree, string path, uint flags, ref MountAttributes attributes, nuint size);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int move_mount(SafeFileHandle from, string fromPath, SafeFileHandle to, string toPath, uint flags);

    /// <summary>struct mount_attr.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct MountAttributes
    {
        public ulong Set;
        public ulong Clear;
        public ulong Propagation;
        public ulong UserNamespace;
    }
}
