using System.Globalization;
using System.Runtime.InteropServices;
using CsiDriver.Native;

namespace CsiDriver.Node;

/// <summary>
/// Loop devices through their ioctls (linux/loop.h): bind a free one to a file, ask what a
/// device is bound to, show it a grown file, and release it. Binding uses LOOP_CONFIGURE with
/// direct I/O, so the loop device passes its requests to the file as they come, many at once,
/// and keeps no second page cache of its own.
/// </summary>
public static unsafe partial class LoopDevice
{
    private const ulong LoopClearFd = 0x4C01;
    private const ulong LoopGetStatus = 0x4C05;
    private const ulong LoopSetCapacity = 0x4C07;
    private const ulong LoopConfigure = 0x4C0A;
    private const ulong LoopControlGetFree = 0x4C82;
    private const uint FlagReadOnly = 1;
    private const uint FlagDirectIo = 16;
    private const int O_DIRECT = 0x4000;
    private const int FreeDeviceAttempts = 20;

    /// <summary>struct loop_info64.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct LoopInfo
    {
        public ulong Device;
        public ulong Inode;
        public ulong RawDevice;
        public ulong Offset;
        public ulong SizeLimit;
        public uint Number;
        public uint EncryptType;
        public uint EncryptKeySize;
        public uint Flags;
        public fixed byte FileName[64];
        public fixed byte CryptName[64];
        public fixed byte EncryptKey[32];
        public fixed ulong Init[2];
    }

    /// <summary>struct loop_config.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct LoopConfig
    {
        public uint Fd;
        public uint BlockSize;
        public LoopInfo Info;
        public fixed ulong Reserved[8];
    }

    /// <summary>What a loop device is bound to: the backing file's device (major:minor of its
    /// file system) and inode. The device number tells a loop device bound to one of our FUSE
    /// mounts from every other, whatever path the file had when it was bound.</summary>
    public readonly record struct Binding(uint FileSystemMajor, uint FileSystemMinor, ulong Inode);

    /// <summary>Binds a free loop device to <paramref name="file"/> and returns its path.</summary>
    public static string Attach(string file, bool readOnly)
    {
        using var backing = FileDescriptor.Open(file, (readOnly ? Libc.O_RDONLY : Libc.O_RDWR) | O_DIRECT);
        using var control = FileDescriptor.Open("/dev/loop-control", Libc.O_RDWR);
        for (var attempt = 0; ; attempt++)
        {
            var number = Libc.Check(Libc.Ioctl(control.Number, LoopControlGetFree, 0), "find a free loop device");
            var path = "/dev/loop" + number.ToString(CultureInfo.InvariantCulture);
            using var device = FileDescriptor.Open(path, readOnly ? Libc.O_RDONLY : Libc.O_RDWR);
            var config = new LoopConfig { Fd = (uint)backing.Number };
            config.Info.Flags = FlagDirectIo | (readOnly ? FlagReadOnly : 0);
            if (Libc.Ioctl(device.Number, LoopConfigure, &config) == 0)
            {
                return path;
            }
            var error = NativeException.FromErrno($"bind {path} to {file}");
            // Another process (another driver, losetup) took the same free device first.
            if (error.Errno != Errno.EBUSY || attempt >= FreeDeviceAttempts)
            {
                throw error;
            }
        }
    }

    /// <summary>
    /// What <paramref name="device"/> is bound to, or null when it is free or gone. The kernel
    /// asks the backing file's file system for the file's attributes, so for a file on a FUSE
    /// mount this is a request to its session: answered while someone serves it, refused at once
    /// (ENOTCONN, thrown) when the session is dead — and waited for forever when the session is
    /// alive but unserved, which is why csidriver serves every live session before asking.
    /// </summary>
    public static Binding? BindingOf(string device)
    {
        FileDescriptor handle;
        try
        {
            handle = FileDescriptor.Open(device, Libc.O_RDONLY);
        }
        catch (NativeException e) when (e.Errno is Errno.ENOENT or Errno.ENXIO or Errno.ENODEV)
        {
            return null;
        }
        using (handle)
        {
            LoopInfo info;
            if (Libc.Ioctl(handle.Number, LoopGetStatus, &info) != 0)
            {
                var error = NativeException.FromErrno($"status of {device}");
                return error.Errno == Errno.ENXIO ? null : throw error;
            }
            // The kernel hands dev_t over encoded as new_encode_dev: minor's low byte, then 12
            // bits of major, then the rest of minor. Anonymous file systems (FUSE) have major 0.
            var dev = info.Device;
            var major = (uint)((dev & 0xfff00) >> 8);
            var minor = (uint)((dev & 0xff) | ((dev >> 12) & 0xfff00));
            return new Binding(major, minor, info.Inode);
        }
    }

    /// <summary>Makes the device read its file's size again (LOOP_SET_CAPACITY): a grown volume's
    /// device grows at once, while in use.</summary>
    public static void RefreshCapacity(string device)
    {
        using var handle = FileDescriptor.Open(device, Libc.O_RDONLY);
        Libc.Check(Libc.Ioctl(handle.Number, LoopSetCapacity, 0), $"refresh the size of {device}");
    }

    /// <summary>Releases the device from its file. While something still holds the device open
    /// (a mounted file system), the kernel releases it when that lets go (autoclear). A device
    /// already free is not an error.</summary>
    public static void Detach(string device)
    {
        FileDescriptor handle;
        try
        {
            handle = FileDescriptor.Open(device, Libc.O_RDONLY);
        }
        catch (NativeException e) when (e.Errno is Errno.ENOENT or Errno.ENXIO or Errno.ENODEV)
        {
            return;
        }
        using (handle)
        {
            if (Libc.Ioctl(handle.Number, LoopClearFd, 0) != 0)
            {
                var error = NativeException.FromErrno($"release {device}");
                if (error.Errno != Errno.ENXIO)
                {
                    throw error;
                }
            }
        }
    }

    /// <summary>The path of the file <paramref name="device"/> is bound to, from sysfs (asking no
    /// file system), or null when it is free.</summary>
    public static string? BackingFile(string device)
    {
        try
        {
            return File.ReadAllText($"/sys/block/{Path.GetFileName(device)}/loop/backing_file").Trim();
        }
        catch (IOException)
        {
            return null; // the attribute exists only while the device is bound
        }
    }

    /// <summary>Every loop device node the kernel has created.</summary>
    public static IEnumerable<string> All() =>
        Directory.Exists("/sys/block")
            ? Directory.EnumerateDirectories("/sys/block", "loop*")
                .Select(d => "/dev/" + Path.GetFileName(d))
                .Where(File.Exists)
            : [];
}
