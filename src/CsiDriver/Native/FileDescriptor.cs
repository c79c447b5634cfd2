using System.Runtime.InteropServices;

namespace CsiDriver.Native;

/// <summary>An owned file descriptor, closed exactly once (by Dispose or, failing that, the finalizer).</summary>
public sealed class FileDescriptor : SafeHandle
{
    public FileDescriptor(int fd)
        : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle == -1;

    /// <summary>The number, for a system call; valid while this object is not disposed.</summary>
    public int Number => (int)handle;

    /// <summary>Opens <paramref name="path"/> (always close-on-exec, so tools the driver runs
    /// never inherit a FUSE device or a loop device).</summary>
    public static FileDescriptor Open(string path, int flags) =>
        new(Libc.Check(Libc.Open(path, flags | Libc.O_CLOEXEC), $"open {path}"));

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
