using CsiDriver.Engine;
using CsiDriver.Native;
using Microsoft.Extensions.Logging;

namespace CsiDriver.Node.Fuse;

/// <summary>
/// One mounted volume file served over the kernel's FUSE protocol: a FUSE connection whose
/// requests a few reader threads take from the device descriptor and answer from the engine.
/// A session is either mounted here (the kernel then sends INIT) or resumed from a descriptor
/// an earlier csidriver left with the session holder; a resumed session first asks the kernel,
/// with FUSE_NOTIFY_RESEND, to queue again every request the dead process had read but not
/// answered, so nothing it took is lost.
/// </summary>
public sealed partial class FuseSession
{
    /// <summary>fstype and source as mountinfo shows them: how our mounts are told from others.</summary>
    public const string MountType = "fuse.formation";

    public const string MountSource = "formation";

    /// <summary>Reader threads per session: reads and writes run in parallel, and a reader
    /// blocked in a journal sync (FSYNC) leaves others serving.</summary>
    private const int Readers = 4;

    private static readonly TimeSpan InitTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan ReplyDrainTimeout = TimeSpan.FromSeconds(30);
    private static readonly int HeaderSize = FuseWire.SizeOf<InHeader>();
    private static readonly int ReplyHeaderSize = FuseWire.SizeOf<OutHeader>();

    private readonly FuseChannel _channel;
    private readonly VolumeFileSystem _fileSystem;
    private readonly ILogger _log;
    private readonly Thread[] _readers;
    private readonly TaskCompletionSource<FuseTerms> _initialized = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;
    private int _repliesOwed;

    private FuseSession(string volumeId, string mountPoint, FuseChannel channel, VolumeFileSystem fileSystem, bool readOnly, ILogger log)
    {
        VolumeId = volumeId;
        MountPoint = mountPoint;
        ReadOnly = readOnly;
        _channel = channel;
        _fileSystem = fileSystem;
        _log = log;
        _readers = Enumerable.Range(0, Readers)
            .Select(i => new Thread(ReadLoop) { IsBackground = true, Name = $"fuse-{i}" })
            .ToArray();
    }

    public string VolumeId { get; }

    public string MountPoint { get; }

    public bool ReadOnly { get; }

    /// <summary>The file the loop device is bound to.</summary>
    public string FilePath => Path.Combine(MountPoint, VolumeFileSystem.FileName);

    /// <summary>The terms agreed at INIT; null until then.</summary>
    public FuseTerms? Terms => _initialized.Task.IsCompletedSuccessfully ? _initialized.Task.Result : null;

    /// <summary>The kernel ended the connection (the mount is gone or was aborted): nothing
    /// more reaches the volume through it.</summary>
    public bool HasEnded => _ended.Task.IsCompleted;

    /// <summary>The descriptor to hand to the session holder.</summary>
    public FileDescriptor Device => _channel.Device;

    public SessionTicket Ticket => new(VolumeId, MountPoint, ReadOnly, Terms?.Minor ?? 0, Terms?.KernelResends ?? false);

    /// <summary>Mounts a new FUSE file system at <paramref name="mountPoint"/> serving
    /// <paramref name="device"/>, and returns once the kernel's INIT is answered.</summary>
    public static async Task<FuseSession> MountAsync(string volumeId, string mountPoint, IBlockDevice device, bool readOnly,
        ILogger log, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(mountPoint);
        var channel = FuseChannel.Open();
        var session = new FuseSession(volumeId, mountPoint, channel, new VolumeFileSystem(device, readOnly), readOnly, log);
        try
        {
            // The kernel's mount options for a FUSE file system: the device descriptor, the root's
            // mode, and the owner allowed to use it (root; no allow_other, so no one else can).
            Mounter.MountFileSystem(MountSource, mountPoint, MountType,
                ["nosuid", "nodev", $"fd={channel.Device.Number}", FuseProtocol.RootModeOption, "user_id=0", "group_id=0"],
                readOnly: false);
            session.Start();
            await session._initialized.Task.WaitAsync(InitTimeout, cancellationToken);
            return session;
        }
        catch
        {
            Mounter.Unmount(mountPoint, lazy: true);
            await session.StopAsync();
            throw;
        }
    }

    /// <summary>Serves again a session an earlier csidriver mounted, from its descriptor and
    /// ticket, and asks the kernel to resend what that process left unanswered.</summary>
    public static FuseSession Resume(SessionTicket ticket, FileDescriptor descriptor, IBlockDevice device, ILogger log)
    {
        var session = new FuseSession(ticket.VolumeId, ticket.MountPoint, FuseChannel.Adopt(descriptor),
            new VolumeFileSystem(device, ticket.ReadOnly), ticket.ReadOnly, log);
        session._initialized.SetResult(ticket.Terms);
        try
        {
            session.Notify(FuseNotifyCode.Resend);
        }
        catch
        {
            session._channel.Dispose();
            throw;
        }
        session.Start();
        return session;
    }

    /// <summary>Stops reading requests, lets every request already read be answered, and closes
    /// this process's descriptor. The kernel connection lives on while the session holder keeps
    /// its descriptor; requests arriving meanwhile wait for the next csidriver.</summary>
    public async Task StopAsync()
    {
        if (_stopping)
        {
            return;
        }
        _stopping = true;
        _channel.Stop();
        await Task.Run(() =>
        {
            foreach (var reader in _readers.Where(r => r.IsAlive))
            {
                reader.Join();
            }
        });
        var drain = DateTime.UtcNow + ReplyDrainTimeout;
        while (Volatile.Read(ref _repliesOwed) > 0 && DateTime.UtcNow < drain)
        {
            await Task.Delay(5);
        }
        _channel.Dispose();
        _initialized.TrySetException(new FuseConnectionEndedException());
    }

    private void Start()
    {
        foreach (var reader in _readers)
        {
            reader.Start();
        }
    }

    private void ReadLoop()
    {
        var request = GC.AllocateUninitializedArray<byte>(FuseInit.RequestBufferSize, pinned: true);
        var reply = GC.AllocateUninitializedArray<byte>(ReplyHeaderSize + FuseInit.MaxWrite, pinned: true);
        using var waiter = _channel.CreateWaiter();
        try
        {
            while (!_stopping)
            {
                var length = _channel.TryRead(request);
                if (length == 0)
                {
                    if (!waiter.Wait())
                    {
                        return;
                    }
                    continue;
                }
                try
                {
                    Serve(request.AsMemory(0, length), reply);
                }
                catch (Exception e) when (e is not FuseConnectionEndedException)
                {
                    // One request the kernel would not take the answer to: it is ours to fix,
                    // and the other requests still deserve answers.
                    LogServeFailed(VolumeId, e);
                }
            }
        }
        catch (FuseConnectionEndedException)
        {
            _ended.TrySetResult();
            _initialized.TrySetException(new FuseConnectionEndedException());
        }
        catch (Exception e)
        {
            // Reading itself fails: nothing more can be served on this connection.
            LogReaderFailed(VolumeId, e);
            _ended.TrySetResult();
            _initialized.TrySetException(e);
        }
    }

    private void Serve(ReadOnlyMemory<byte> message, byte[] reply)
    {
        var header = FuseWire.Read<InHeader>(message.Span);
        var argument = message[HeaderSize..Math.Min((int)header.Length, message.Length)];
        if (header.Opcode == FuseOpcode.Init)
        {
            Initialize(header.Unique, argument.Span, reply);
            return;
        }
        if ((header.Unique & FuseUnique.Resent) != 0)
        {
            // Read by the csidriver that died before answering it: served now, exactly once more.
            LogResent(VolumeId, header.Opcode.ToString(), header.Unique & ~FuseUnique.Resent);
        }
        FuseOutcome outcome;
        try
        {
            outcome = _fileSystem.Handle(header, argument, reply.AsMemory(ReplyHeaderSize));
        }
        catch (Exception e)
        {
            outcome = Failed(header, e);
        }
        if (!outcome.Replies)
        {
            return;
        }
        if (!outcome.Completion.IsCompleted)
        {
            Interlocked.Increment(ref _repliesOwed);
            _ = ReplyWhenDoneAsync(header, outcome.Completion);
            return;
        }
        var error = outcome.Error;
        if (error == 0 && !outcome.Completion.IsCompletedSuccessfully)
        {
            error = Failed(header, outcome.Completion.AsTask().Exception!.InnerException!).Error;
        }
        Reply(reply, header.Unique, error, error == 0 ? outcome.PayloadLength : 0);
    }

    /// <summary>Answers a request whose work (a journal sync) finishes later, from whichever
    /// thread finishes it.</summary>
    private async Task ReplyWhenDoneAsync(InHeader header, ValueTask completion)
    {
        var error = 0;
        try
        {
            await completion;
        }
        catch (Exception e)
        {
            error = Failed(header, e).Error;
        }
        try
        {
            Reply(new byte[ReplyHeaderSize], header.Unique, error, 0);
        }
        catch (IOException e)
        {
            LogReplyFailed(VolumeId, e.Message);
        }
        finally
        {
            Interlocked.Decrement(ref _repliesOwed);
        }
    }

    private void Initialize(ulong unique, ReadOnlySpan<byte> argument, byte[] reply)
    {
        try
        {
            var (answer, terms) = FuseInit.Negotiate(FuseWire.ReadPadded<InitIn>(argument));
            Reply(reply, unique, 0, FuseWire.Write(reply.AsSpan(ReplyHeaderSize), answer));
            if (terms is not null)
            {
                _initialized.TrySetResult(terms);
            }
        }
        catch (FuseProtocolException e)
        {
            Reply(reply, unique, Errno.EPROTO, 0);
            _initialized.TrySetException(e);
        }
    }

    private FuseOutcome Failed(in InHeader header, Exception exception)
    {
        var errno = FuseErrors.FromException(exception);
        if (errno == Errno.EIO)
        {
            LogRequestFailed(VolumeId, header.Opcode.ToString(), exception.Message);
        }
        return FuseOutcome.Failed(errno);
    }

    private void Reply(byte[] buffer, ulong unique, int errno, int payloadLength)
    {
        var length = ReplyHeaderSize + payloadLength;
        FuseWire.Write(buffer, new OutHeader { Length = (uint)length, Error = -errno, Unique = unique });
        _channel.Write(buffer.AsSpan(0, length));
    }

    /// <summary>A notification: unique 0, the code where a reply has its error.</summary>
    private void Notify(FuseNotifyCode code)
    {
        Span<byte> message = stackalloc byte[ReplyHeaderSize];
        FuseWire.Write(message, new OutHeader { Length = (uint)ReplyHeaderSize, Error = (int)code, Unique = 0 });
        _channel.Write(message);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "FUSE session of volume {VolumeId} stopped serving")]
    private partial void LogReaderFailed(string volumeId, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "a FUSE request on volume {VolumeId} could not be answered")]
    private partial void LogServeFailed(string volumeId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FUSE {Opcode} on volume {VolumeId} failed: {Reason}")]
    private partial void LogRequestFailed(string volumeId, string opcode, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "FUSE {Opcode} {Unique} on volume {VolumeId} was resent by the kernel: the previous csidriver read it and did not answer")]
    private partial void LogResent(string volumeId, string opcode, ulong unique);

    [LoggerMessage(Level = LogLevel.Warning, Message = "FUSE reply for volume {VolumeId} not delivered: {Reason}")]
    private partial void LogReplyFailed(string volumeId, string reason);
}
