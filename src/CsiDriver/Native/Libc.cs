using System.Runtime.InteropServices;

namespace CsiDriver.Native;

/// <summary>The Linux errno values the node's native code tells apart.</summary>
public static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int ENXIO = 6;
    public const int EAGAIN = 11;
    public const int EBUSY = 16;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int EFBIG = 27;
    public const int ENOSPC = 28;
    public const int EROFS = 30;
    public const int ENOSYS = 38;
    public const int EPROTO = 71;
    public const int EOPNOTSUPP = 95;
    public const int ECONNRESET = 104;
    public const int ENOTCONN = 107;
    public const int ECONNREFUSED = 111;
}

/// <summary>
/// The raw system calls the FUSE frontend, the loop devices and the session holder make, with
/// errno turned into <see cref="NativeException"/> by <see cref="Check(long, string)"/>. Nothing
/// here owns a descriptor: the callers wrap what they open in <see cref="FileDescriptor"/>.
/// </summary>
internal static unsafe partial class Libc
{
    public const int O_RDONLY = 0;
    public const int O_RDWR = 2;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    public const int EPOLL_CLOEXEC = O_CLOEXEC;
    public const int EPOLL_CTL_ADD = 1;
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLEXCLUSIVE = 1u << 28;
    public const int EFD_CLOEXEC = O_CLOEXEC;

    public const int AF_UNIX = 1;
    public const int SOCK_SEQPACKET = 5;
    public const int SOCK_CLOEXEC = O_CLOEXEC;
    public const int SOL_SOCKET = 1;
    public const int SCM_RIGHTS = 1;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;
    public const int MSG_NOSIGNAL = 0x4000;

    public const short POLLIN = 0x001;
    public const short POLLRDHUP = 0x2000;

    /// <summary>Returns <paramref name="result"/>, or throws with errno when it is negative.</summary>
    public static long Check(long result, string what) =>
        result >= 0 ? result : throw NativeException.FromErrno(what);

    public static int Check(int result, string what) =>
        result >= 0 ? result : throw NativeException.FromErrno(what);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, ulong request, void* argument);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, ulong request, nint argument);

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate(int flags);

    /// <summary><paramref name="eventBuffer"/>: a struct epoll_event, whose events word comes
    /// first on every architecture (its data word is unused here, so its packing never matters).</summary>
    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollControl(int epoll, int operation, int fd, byte* eventBuffer);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(int epoll, byte* events, int maxEvents, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initialValue, int flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, ulong count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    public static partial int Bind(int fd, byte* address, int addressLength);

    [LibraryImport("libc", EntryPoint = "connect", SetLastError = true)]
    public static partial int Connect(int fd, byte* address, int addressLength);

    [LibraryImport("libc", EntryPoint = "listen", SetLastError = true)]
    public static partial int Listen(int fd, int backlog);

    [LibraryImport("libc", EntryPoint = "accept4", SetLastError = true)]
    public static partial int Accept(int fd, byte* address, int* addressLength, int flags);

    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(int fd, int how);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint SendMessage(int fd, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint ReceiveMessage(int fd, MessageHeader* message, int flags);

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVector
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr (64-bit Linux).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct cmsghdr, followed by its data aligned to 8 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ControlMessageHeader
    {
        public nuint Length;
        public int Level;
        public int Type;
    }
}

/// <summary>A failed system call: what was attempted, and errno.</summary>
public sealed class NativeException(string what, int errno)
    : IOException($"{what}: {Marshal.GetPInvokeErrorMessage(errno)}", errno)
{
    public int Errno { get; } = errno;

    public static NativeException FromErrno(string what) => new(what, Marshal.GetLastPInvokeError());
}
