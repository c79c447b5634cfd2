using System.Runtime.InteropServices;

namespace CsiDriver.Node;

/// <summary>
/// mount(2) and umount2(2) through libc. Generic mount flags named in a capability's
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
    private const ulong MsRemount = 32;
    private const ulong MsDirSync = 128;
    private const ulong MsNoAtime = 1024;
    private const ulong MsNoDirAtime = 2048;
    private const ulong MsBind = 4096;
    private const ulong MsRelAtime = 1 << 21;
    private const ulong MsStrictAtime = 1 << 24;
    private const ulong MsLazyTime = 1 << 25;
    private const int MntDetach = 2;
    private const int Einval = 22;

    private static readonly Dictionary<string, ulong> Flags = new(StringComparer.Ordinal)
    {
        ["ro"] = MsReadOnly, ["rw"] = 0, ["nosuid"] = MsNoSuid, ["nodev"] = MsNoDev, ["noexec"] = MsNoExec,
        ["sync"] = MsSynchronous, ["dirsync"] = MsDirSync, ["noatime"] = MsNoAtime, ["nodiratime"] = MsNoDirAtime,
        ["relatime"] = MsRelAtime, ["strictatime"] = MsStrictAtime, ["lazytime"] = MsLazyTime, ["defaults"] = 0,
    };

    /// <summary>Mounts a file system on <paramref name="device"/> at <paramref name="target"/>.</summary>
    public static void MountFileSystem(string device, string target, string fsType, IEnumerable<string> options, bool readOnly)
    {
        var (flags, data) = Split(options);
        if (readOnly)
        {
            flags |= MsReadOnly;
        }
        Check(mount(device, target, fsType, flags, data.Length == 0 ? null : data), $"mount {device} on {target} as {fsType}");
    }

    /// <summary>Bind-mounts <paramref name="source"/> (a directory or a device file) at
    /// <paramref name="target"/>; read-only takes a second remount, as the kernel ignores
    /// MS_RDONLY on the first bind.</summary>
    public static void Bind(string source, string target, bool readOnly)
    {
        Check(mount(source, target, null, MsBind, null), $"bind {source} on {target}");
        if (readOnly)
        {
            var remount = mount(source, target, null, MsBind | MsRemount | MsReadOnly, null);
            if (remount != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                umount2(target, MntDetach);
                throw new IOException($"remount {target} read-only: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
    }

    /// <summary>Unmounts <paramref name="target"/>; with <paramref name="lazy"/> detaches it even
    /// while in use (for repairing a lost attachment). Not mounted is not an error.</summary>
    public static void Unmount(string target, bool lazy = false)
    {
        if (umount2(target, lazy ? MntDetach : 0) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != Einval)
            {
                throw new IOException($"unmount {target}: {Marshal.GetPInvokeErrorMessage(errno)}");
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
            throw new IOException($"{what}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mount(string source, string target, string? fileSystemType, ulong flags, string? data);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int umount2(string target, int flags);
}
