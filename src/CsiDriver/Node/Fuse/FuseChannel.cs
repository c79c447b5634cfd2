using CsiDriver.Native;

namespace CsiDriver.Node.Fuse;

/// <summary>
/// One FUSE connection's device descriptor (<c>/dev/fuse</c> as opened for one mount): requests
/// are read from it, replies and notifications written to it. The descriptor is non-blocking
/// and shared by several reader threads; each waits in an epoll set of its own in which the
/// device is EPOLLEXCLUSIVE, so a request wakes one reader rather than all of them, while the
/// stop event (level-triggered, never reset) wakes every reader for good.
/// </summary>
public sealed unsafe class FuseChannel : IDisposable
{
    private const ulong Fionbio = 0x5421;

    private readonly FileDescriptor _stop;

    private FuseChannel(FileDescriptor device)
    {
        Device = device;
        _stop = new FileDescriptor(Libc.Check(Libc.EventFd(0, Libc.EFD_CLOEXEC), "eventfd"));
    }

    /// <summary>The descriptor the kernel's connection lives on; the session holder keeps a
    /// second reference to the same open file, so the connection outlives this process.</summary>
    public FileDescriptor Device { get; }

    public static FuseChannel Open() => new(FileDescriptor.Open("/dev/fuse", Libc.O_RDWR | Libc.O_NONBLOCK));

    /// <summary>Serves a connection whose descriptor came back from the session holder.</summary>
    public static FuseChannel Adopt(FileDescriptor device)
    {
        var nonBlocking = 1;
        Libc.Check(Libc.Ioctl(device.Number, Fionbio, &nonBlocking), "set the FUSE device non-blocking");
        return new FuseChannel(device);
    }

    /// <summary>Reads one request into <paramref name="buffer"/>: its length, or 0 when none is
    /// waiting. Throws <see cref="FuseConnectionEndedException"/> once the connection is gone
    /// (unmounted or aborted).</summary>
    public int TryRead(Span<byte> buffer)
    {
        while (true)
        {
            nint read;
            fixed (byte* start = buffer)
            {
                read = Libc.Read(Device.Number, start, buffer.Length);
            }
            if (read >= 0)
            {
                return (int)read;
            }
            var error = NativeException.FromErrno("read a FUSE request");
            switch (error.Errno)
            {
                case Errno.EINTR:
                    continue;
                case Errno.EAGAIN:
                    return 0;
                case Errno.ENODEV:
                    throw new FuseConnectionEndedException();
                default:
                    throw error;
            }
        }
    }

    /// <summary>Writes one reply or notification. A reply to a request the kernel no longer
    /// waits for (interrupted, or the connection aborted) is dropped, as the protocol intends.</summary>
    public void Write(ReadOnlySpan<byte> message)
    {
        while (true)
        {
            nint written;
            fixed (byte* start = message)
            {
                written = Libc.Write(Device.Number, start, message.Length);
            }
            if (written >= 0)
            {
                return;
            }
            var error = NativeException.FromErrno("write a FUSE reply");
            switch (error.Errno)
            {
                case Errno.EINTR:
                    continue;
                case Errno.ENOENT:
                    return;
                case Errno.ENODEV:
                    throw new FuseConnectionEndedException();
                default:
                    throw error;
            }
        }
    }

    /// <summary>Wakes every waiting reader for good: <see cref="Waiter.Wait"/> then returns false.</summary>
    public void Stop()
    {
        var one = 1UL;
        Libc.Write(_stop.Number, (byte*)&one, sizeof(ulong));
    }

    public Waiter CreateWaiter() => new(this);

    public void Dispose()
    {
        _stop.Dispose();
        Device.Dispose();
    }

    /// <summary>One reader's epoll set: the device (exclusive) and the stop event.</summary>
    public sealed class Waiter : IDisposable
    {
        private readonly FuseChannel _channel;
        private readonly FileDescriptor _epoll;
        private volatile bool _stopped;

        internal Waiter(FuseChannel channel)
        {
            _channel = channel;
            _epoll = new FileDescriptor(Libc.Check(Libc.EpollCreate(Libc.EPOLL_CLOEXEC), "epoll_create1"));
            Add(channel.Device.Number, Libc.EPOLLIN | Libc.EPOLLEXCLUSIVE);
            Add(channel._stop.Number, Libc.EPOLLIN);
        }

        /// <summary>Blocks until a request may be waiting (true) or the channel is stopped (false).</summary>
        public bool Wait()
        {
            var events = stackalloc byte[32];
            while (!_stopped)
            {
                var ready = Libc.EpollWait(_epoll.Number, events, 1, -1);
                if (ready < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() != Errno.EINTR)
                {
                    throw NativeException.FromErrno("epoll_wait on a FUSE device");
                }
                if (ready > 0)
                {
                    _stopped = IsStopped();
                    return !_stopped;
                }
            }
            return false;
        }

        public void Dispose() => _epoll.Dispose();

        private bool IsStopped()
        {
            var probe = new Libc.PollFd { Fd = _channel._stop.Number, Events = Libc.POLLIN };
            return Libc.Poll(&probe, 1, 0) > 0;
        }

        private void Add(int fd, uint events)
        {
            var buffer = stackalloc byte[16];
            new Span<byte>(buffer, 16).Clear();
            *(uint*)buffer = events;
            Libc.Check(Libc.EpollControl(_epoll.Number, Libc.EPOLL_CTL_ADD, fd, buffer), "epoll_ctl");
        }
    }
}

/// <summary>The kernel ended the FUSE connection: the mount was unmounted or aborted.</summary>
public sealed class FuseConnectionEndedException() : IOException("the FUSE connection has ended");
