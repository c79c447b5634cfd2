using CsiDriver.Native;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Sessions;

/// <summary>
/// `csidriver session-holder`: a small process that keeps a second descriptor of every FUSE
/// connection csidriver serves, so that the connections outlive csidriver. The kernel ends a
/// FUSE connection when its last device descriptor closes; while the holder keeps one, a
/// csidriver that stops or crashes leaves its pods' I/O waiting rather than failing, and the
/// next csidriver takes the descriptors back (<see cref="SessionHolderClient"/>). The holder
/// never reads from what it keeps, and knows nothing of volumes: a name, a ticket it stores
/// unread, a descriptor. It lives in its own container of the node pod, so a restart of the
/// csidriver container keeps the sessions; a replacement of the whole pod does not.
/// </summary>
public sealed partial class SessionHolder : IDisposable
{
    private readonly string _socketPath;
    private readonly ILogger _log;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (FileDescriptor Descriptor, byte[] Ticket)> _held = new(StringComparer.Ordinal);
    private readonly HashSet<UnixPacketSocket> _connections = [];
    private readonly FileStream _instanceLock;
    private readonly UnixPacketSocket _listener;

    public SessionHolder(string socketPath, ILogger log)
    {
        _socketPath = Path.GetFullPath(socketPath);
        _log = log;
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("the session holder keeps Linux FUSE sessions");
        }
        // Only root (csidriver) may hand over or take back sessions.
        Directory.CreateDirectory(Path.GetDirectoryName(_socketPath)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _instanceLock = LockInstance(_socketPath + ".lock");
        // The lock is ours, so a socket file left here is a dead holder's.
        File.Delete(_socketPath);
        _listener = UnixPacketSocket.Listen(_socketPath, backlog: 16);
        File.SetUnixFileMode(_socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _held.Count;
            }
        }
    }

    /// <summary>Serves connections until <paramref name="cancellationToken"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        LogListening(_socketPath);
        var acceptor = new Thread(AcceptLoop) { IsBackground = true, Name = "holder-accept" };
        acceptor.Start();
        await Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
        _listener.Shutdown();
        acceptor.Join(TimeSpan.FromSeconds(5));
        lock (_lock)
        {
            foreach (var connection in _connections)
            {
                connection.Shutdown();
            }
        }
        LogStopping(Count);
    }

    public void Dispose()
    {
        _listener.Dispose();
        File.Delete(_socketPath);
        lock (_lock)
        {
            foreach (var (descriptor, _) in _held.Values)
            {
                descriptor.Dispose();
            }
            _held.Clear();
        }
        _instanceLock.Dispose();
    }

    private void AcceptLoop()
    {
        while (true)
        {
            UnixPacketSocket connection;
            try
            {
                connection = _listener.Accept();
            }
            catch (NativeException)
            {
                return; // shut down
            }
            new Thread(() => Serve(connection)) { IsBackground = true, Name = "holder-connection" }.Start();
        }
    }

    private void Serve(UnixPacketSocket connection)
    {
        lock (_lock)
        {
            _connections.Add(connection);
        }
        using (connection)
        {
            var buffer = new byte[UnixPacketSocket.MaxMessage];
            try
            {
                while (true)
                {
                    var (length, descriptor) = connection.Receive(buffer);
                    if (length == 0)
                    {
                        descriptor?.Dispose();
                        return;
                    }
                    Handle(connection, HolderMessage.TryDecode(buffer.AsSpan(0, length)), descriptor);
                }
            }
            catch (NativeException e)
            {
                LogConnectionFailed(e.Message);
            }
            finally
            {
                lock (_lock)
                {
                    _connections.Remove(connection);
                }
            }
        }
    }

    private void Handle(UnixPacketSocket connection, HolderMessage? message, FileDescriptor? descriptor)
    {
        switch (message)
        {
            case { Kind: HolderMessageKind.Hold } when descriptor is not null:
                Keep(message.Name, descriptor, message.Ticket);
                connection.Send(new HolderMessage(HolderMessageKind.Done, message.Name).Encode());
                return;
            case { Kind: HolderMessageKind.Release }:
                descriptor?.Dispose();
                Drop(message.Name);
                connection.Send(new HolderMessage(HolderMessageKind.Done, message.Name).Encode());
                return;
            case { Kind: HolderMessageKind.List }:
                descriptor?.Dispose();
                foreach (var (name, held, ticket) in Matching(message.Name))
                {
                    try
                    {
                        connection.Send(new HolderMessage(HolderMessageKind.Entry, name, ticket).Encode(), held);
                    }
                    catch (ObjectDisposedException)
                    {
                        // Released while the list was being sent.
                    }
                }
                connection.Send(new HolderMessage(HolderMessageKind.End).Encode());
                return;
            default:
                descriptor?.Dispose();
                connection.Send(new HolderMessage(HolderMessageKind.Refused, "", "not a request this holder understands"u8.ToArray()).Encode());
                return;
        }
    }

    private void Keep(string name, FileDescriptor descriptor, byte[] ticket)
    {
        int count;
        lock (_lock)
        {
            if (_held.Remove(name, out var previous))
            {
                previous.Descriptor.Dispose();
            }
            _held[name] = (descriptor, ticket);
            count = _held.Count;
        }
        LogHeld(name, count);
    }

    private void Drop(string name)
    {
        int count;
        lock (_lock)
        {
            if (!_held.Remove(name, out var previous))
            {
                return;
            }
            previous.Descriptor.Dispose();
            count = _held.Count;
        }
        LogReleased(name, count);
    }

    /// <summary>A snapshot of the matching entries; sending happens outside the lock. An entry
    /// released meanwhile is skipped rather than sent closed.</summary>
    private List<(string Name, FileDescriptor Descriptor, byte[] Ticket)> Matching(string prefix)
    {
        lock (_lock)
        {
            return _held.Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal))
                .Select(e => (e.Key, e.Value.Descriptor, e.Value.Ticket))
                .ToList();
        }
    }

    private static FileStream LockInstance(string path)
    {
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"another session holder serves {path[..^".lock".Length]} ({path} is locked)", e);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "session holder listening on {SocketPath}")]
    private partial void LogListening(string socketPath);

    [LoggerMessage(Level = LogLevel.Information, Message = "holding session {Name} ({Count} held)")]
    private partial void LogHeld(string name, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "released session {Name} ({Count} held)")]
    private partial void LogReleased(string name, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "a session holder connection failed: {Reason}")]
    private partial void LogConnectionFailed(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "session holder stopping; the {Count} sessions it holds end unless csidriver still serves them")]
    private partial void LogStopping(int count);
}
