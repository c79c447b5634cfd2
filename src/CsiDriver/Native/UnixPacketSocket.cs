using System.Text;

namespace CsiDriver.Native;

/// <summary>
/// A unix-domain SOCK_SEQPACKET socket that can carry a file descriptor with a message
/// (SCM_RIGHTS). Messages keep their boundaries, so one send is one receive. .NET's sockets
/// cannot pass descriptors, so this calls libc; every descriptor it creates or receives is
/// close-on-exec.
/// </summary>
public sealed unsafe class UnixPacketSocket : IDisposable
{
    /// <summary>Largest message either side sends.</summary>
    public const int MaxMessage = 64 * 1024;

    private const int MaxPathBytes = 107;
    private const int AddressSize = 110;

    private readonly FileDescriptor _socket;

    private UnixPacketSocket(FileDescriptor socket) => _socket = socket;

    public static UnixPacketSocket Connect(string path)
    {
        var socket = Create();
        var address = stackalloc byte[AddressSize];
        var length = Address(path, address);
        if (Libc.Connect(socket.Number, address, length) != 0)
        {
            var error = NativeException.FromErrno($"connect to {path}");
            socket.Dispose();
            throw error;
        }
        return new UnixPacketSocket(socket);
    }

    /// <summary>Listens at <paramref name="path"/> (which must not exist).</summary>
    public static UnixPacketSocket Listen(string path, int backlog)
    {
        var socket = Create();
        var address = stackalloc byte[AddressSize];
        var length = Address(path, address);
        if (Libc.Bind(socket.Number, address, length) != 0 || Libc.Listen(socket.Number, backlog) != 0)
        {
            var error = NativeException.FromErrno($"listen at {path}");
            socket.Dispose();
            throw error;
        }
        return new UnixPacketSocket(socket);
    }

    public UnixPacketSocket Accept() =>
        new(new FileDescriptor(Libc.Check(Libc.Accept(_socket.Number, null, null, Libc.SOCK_CLOEXEC), "accept")));

    /// <summary>Sends one message, with <paramref name="descriptor"/> attached when given.</summary>
    public void Send(ReadOnlySpan<byte> message, FileDescriptor? descriptor = null)
    {
        // Keeps the descriptor from being closed (and its number reused) while it is sent.
        var added = false;
        descriptor?.DangerousAddRef(ref added);
        try
        {
            SendMessage(message, descriptor);
        }
        finally
        {
            if (added)
            {
                descriptor!.DangerousRelease();
            }
        }
    }

    private void SendMessage(ReadOnlySpan<byte> message, FileDescriptor? descriptor)
    {
        var control = stackalloc byte[ControlSpace];
        fixed (byte* data = message)
        {
            var vector = new Libc.IoVector { Base = data, Length = (nuint)message.Length };
            var header = new Libc.MessageHeader { Vectors = &vector, VectorCount = 1 };
            if (descriptor is not null)
            {
                var cmsg = (Libc.ControlMessageHeader*)control;
                cmsg->Length = (nuint)(sizeof(Libc.ControlMessageHeader) + sizeof(int));
                cmsg->Level = Libc.SOL_SOCKET;
                cmsg->Type = Libc.SCM_RIGHTS;
                *(int*)(control + sizeof(Libc.ControlMessageHeader)) = descriptor.Number;
                header.Control = control;
                header.ControlLength = (nuint)ControlSpace;
            }
            Libc.Check((long)Libc.SendMessage(_socket.Number, &header, Libc.MSG_NOSIGNAL), "send on a unix socket");
        }
    }

    /// <summary>Receives one message into <paramref name="buffer"/>: its length (0 when the peer
    /// has closed) and the descriptor that came with it, if any.</summary>
    public (int Length, FileDescriptor? Descriptor) Receive(Span<byte> buffer)
    {
        var control = stackalloc byte[ControlSpace];
        fixed (byte* data = buffer)
        {
            var vector = new Libc.IoVector { Base = data, Length = (nuint)buffer.Length };
            var header = new Libc.MessageHeader { Vectors = &vector, VectorCount = 1, Control = control, ControlLength = (nuint)ControlSpace };
            nint received;
            while ((received = Libc.ReceiveMessage(_socket.Number, &header, Libc.MSG_CMSG_CLOEXEC)) < 0)
            {
                var error = NativeException.FromErrno("receive on a unix socket");
                if (error.Errno == Errno.ECONNRESET)
                {
                    return (0, null);
                }
                if (error.Errno != Errno.EINTR)
                {
                    throw error;
                }
            }
            FileDescriptor? descriptor = null;
            if (header.ControlLength >= (nuint)(sizeof(Libc.ControlMessageHeader) + sizeof(int)))
            {
                var cmsg = (Libc.ControlMessageHeader*)control;
                if (cmsg->Level == Libc.SOL_SOCKET && cmsg->Type == Libc.SCM_RIGHTS)
                {
                    descriptor = new FileDescriptor(*(int*)(control + sizeof(Libc.ControlMessageHeader)));
                }
            }
            return ((int)received, descriptor);
        }
    }

    /// <summary>True when the peer has closed or reset the connection (checked without blocking;
    /// only meaningful while no reply is expected).</summary>
    public bool PeerHasGone()
    {
        var probe = new Libc.PollFd { Fd = _socket.Number, Events = Libc.POLLIN | Libc.POLLRDHUP };
        return Libc.Poll(&probe, 1, 0) != 0;
    }

    /// <summary>Ends the connection both ways, waking a thread blocked in <see cref="Receive"/> or <see cref="Accept"/>.</summary>
    public void Shutdown() => Libc.Shutdown(_socket.Number, 2);

    public void Dispose() => _socket.Dispose();

    /// <summary>CMSG_SPACE(sizeof(int)): header plus one descriptor, padded to 8 bytes.</summary>
    private static int ControlSpace => (sizeof(Libc.ControlMessageHeader) + sizeof(int) + 7) & ~7;

    private static FileDescriptor Create() =>
        new(Libc.Check(Libc.Socket(Libc.AF_UNIX, Libc.SOCK_SEQPACKET | Libc.SOCK_CLOEXEC, 0), "socket"));

    /// <summary>Fills a struct sockaddr_un; returns its length.</summary>
    private static int Address(string path, byte* address)
    {
        var bytes = Encoding.UTF8.GetBytes(path);
        if (bytes.Length > MaxPathBytes)
        {
            throw new ArgumentException($"unix socket path {path} is longer than {MaxPathBytes} bytes", nameof(path));
        }
        new Span<byte>(address, AddressSize).Clear();
        *(ushort*)address = Libc.AF_UNIX;
        bytes.CopyTo(new Span<byte>(address + 2, MaxPathBytes));
        return 2 + bytes.Length + 1;
    }
}
