using CsiDriver.Native;

namespace CsiDriver.Sessions;

/// <summary>A session the holder kept: its name, the ticket stored with it, and a copy of its descriptor.</summary>
public sealed record HeldSession(string Name, byte[] Ticket, FileDescriptor Descriptor);

/// <summary>
/// csidriver's side of the session holder (<see cref="SessionHolder"/>): one connection, one
/// request at a time. It knows which names the holder keeps for it on the current connection:
/// when the holder dies, every one of them is lost at once (the next call notices and
/// reconnects), so <see cref="IsHolding"/> answers from the live connection only.
/// </summary>
public sealed class SessionHolderClient(string socketPath) : IDisposable
{
    private readonly Lock _lock = new();
    private readonly HashSet<string> _held = new(StringComparer.Ordinal);
    private readonly byte[] _buffer = new byte[UnixPacketSocket.MaxMessage];
    private UnixPacketSocket? _connection;

    public string SocketPath { get; } = socketPath;

    /// <summary>Hands the holder a copy of <paramref name="descriptor"/> to keep under <paramref name="name"/>.</summary>
    public void Hold(string name, byte[] ticket, FileDescriptor descriptor)
    {
        lock (_lock)
        {
            Request(new HolderMessage(HolderMessageKind.Hold, name, ticket), descriptor, HolderMessageKind.Done);
            _held.Add(name);
        }
    }

    /// <summary>Has the holder close what it keeps under <paramref name="name"/>. A holder that is
    /// gone keeps nothing, so that is not an error.</summary>
    public void Release(string name)
    {
        lock (_lock)
        {
            _held.Remove(name);
            if (Connected() is null && !TryConnect())
            {
                return;
            }
            try
            {
                Request(new HolderMessage(HolderMessageKind.Release, name), null, HolderMessageKind.Done);
            }
            catch (IOException) when (_connection is null)
            {
                // The holder went away while asked: it keeps nothing any more.
            }
        }
    }

    /// <summary>Every session the holder keeps whose name starts with <paramref name="prefix"/>,
    /// each with a new descriptor of its own; the holder keeps its copies. Empty when no holder
    /// answers at <see cref="SocketPath"/>.</summary>
    public IReadOnlyList<HeldSession> TakeBack(string prefix)
    {
        lock (_lock)
        {
            if (Connected() is null && !TryConnect())
            {
                return [];
            }
            var connection = _connection!;
            Send(connection, new HolderMessage(HolderMessageKind.List, prefix), null);
            var sessions = new List<HeldSession>();
            while (true)
            {
                var (message, descriptor) = Receive(connection);
                switch (message.Kind)
                {
                    case HolderMessageKind.Entry when descriptor is not null:
                        sessions.Add(new HeldSession(message.Name, message.Ticket, descriptor));
                        _held.Add(message.Name);
                        continue;
                    case HolderMessageKind.End:
                        return sessions;
                    default:
                        descriptor?.Dispose();
                        throw new IOException($"the session holder at {SocketPath} answered {message.Kind} to a list");
                }
            }
        }
    }

    /// <summary>True while the holder, alive on this connection, keeps <paramref name="name"/>.</summary>
    public bool IsHolding(string name)
    {
        lock (_lock)
        {
            return Connected() is not null && _held.Contains(name);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            Forget();
        }
    }

    /// <summary>The connection while the holder is alive on it; after it died, null, and
    /// everything it held is forgotten.</summary>
    private UnixPacketSocket? Connected()
    {
        if (_connection is { } connection && connection.PeerHasGone())
        {
            Forget();
        }
        return _connection;
    }

    /// <summary>The holder is gone (or the connection broke): so is everything it held for us.</summary>
    private void Forget()
    {
        _connection?.Dispose();
        _connection = null;
        _held.Clear();
    }

    private bool TryConnect()
    {
        try
        {
            _connection = UnixPacketSocket.Connect(SocketPath);
            return true;
        }
        catch (NativeException e) when (e.Errno is Errno.ENOENT or Errno.ECONNREFUSED)
        {
            return false;
        }
    }

    private void Request(HolderMessage message, FileDescriptor? descriptor, HolderMessageKind expected)
    {
        if (Connected() is null && !TryConnect())
        {
            throw new IOException($"no session holder answers at {SocketPath}");
        }
        var connection = _connection!;
        Send(connection, message, descriptor);
        var (reply, extra) = Receive(connection);
        extra?.Dispose();
        if (reply.Kind != expected)
        {
            throw new IOException($"the session holder at {SocketPath} answered {reply.Kind} to {message.Kind}");
        }
    }

    private void Send(UnixPacketSocket connection, HolderMessage message, FileDescriptor? descriptor)
    {
        try
        {
            connection.Send(message.Encode(), descriptor);
        }
        catch (NativeException e)
        {
            Forget();
            throw new IOException($"the session holder at {SocketPath} is gone: {e.Message}", e);
        }
    }

    private (HolderMessage Message, FileDescriptor? Descriptor) Receive(UnixPacketSocket connection)
    {
        var (length, descriptor) = connection.Receive(_buffer);
        if (length == 0)
        {
            descriptor?.Dispose();
            Forget();
            throw new IOException($"the session holder at {SocketPath} closed the connection");
        }
        return HolderMessage.TryDecode(_buffer.AsSpan(0, length)) is { } message
            ? (message, descriptor)
            : throw new IOException($"the session holder at {SocketPath} sent a malformed message");
    }
}
