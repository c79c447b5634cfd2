using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace CsiDriver.Engine.Nbd;

/// <summary>
/// The client side of our NBD server: one export seen through an NBD unix socket as an
/// <see cref="IBlockDevice"/>, so the consistency workload and checker run over the real data
/// path (tests, the demo and its `check-consistency`), and `csidriver copy-snapshot` reads snapshots. Fixed newstyle handshake, NBD_OPT_GO on the
/// export name, then one request at a time with simple replies. Wire layouts come from the
/// server's own NBD types (one definition of the format). Every reply is awaited under a
/// deadline so a hung server fails the caller instead of stalling it.
/// </summary>
public sealed class NbdBlockDevice : IBlockDevice, IAsyncDisposable
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(20);

    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _oneRequest = new(1, 1);
    private readonly byte[] _header = new byte[NbdProtocol.RequestHeaderLength];
    private ulong _nextHandle = 1;

    private NbdBlockDevice(NetworkStream stream, string name, long size, NbdTransmissionFlags flags)
    {
        _stream = stream;
        Name = name;
        Size = size;
        IsReadOnly = flags.HasFlag(NbdTransmissionFlags.ReadOnly);
    }

    public string Name { get; }

    public long Size { get; }

    public bool IsReadOnly { get; }

    public static async Task<NbdBlockDevice> OpenAsync(string socketPath, string export)
    {
        using var deadline = new CancellationTokenSource(ReplyTimeout);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), deadline.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            var greeting = new byte[NbdProtocol.GreetingLength];
            await stream.ReadExactlyAsync(greeting, deadline.Token);
            if (BinaryPrimitives.ReadUInt64BigEndian(greeting) != NbdProtocol.InitMagic
                || BinaryPrimitives.ReadUInt64BigEndian(greeting.AsSpan(8)) != NbdProtocol.OptionMagic)
            {
                throw new IOException($"{socketPath} did not greet as a newstyle NBD server");
            }
            var clientFlags = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(clientFlags, (uint)(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes));
            await stream.WriteAsync(clientFlags, deadline.Token);
            await stream.WriteAsync(GoOption(export), deadline.Token);
            var (size, flags) = await ReadGoRepliesAsync(stream, export, deadline.Token);
            return new NbdBlockDevice(stream, export, size, flags);
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    public async ValueTask ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        await RequestAsync(NbdCommand.Read, NbdCommandFlags.None, offset, (uint)buffer.Length, ReadOnlyMemory<byte>.Empty, buffer, cancellationToken);

    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, bool fua, CancellationToken cancellationToken = default) =>
        await RequestAsync(NbdCommand.Write, fua ? NbdCommandFlags.Fua : NbdCommandFlags.None, offset, (uint)data.Length, data, Memory<byte>.Empty, cancellationToken);

    public async ValueTask FlushAsync(CancellationToken cancellationToken = default) =>
        await RequestAsync(NbdCommand.Flush, NbdCommandFlags.None, 0, 0, ReadOnlyMemory<byte>.Empty, Memory<byte>.Empty, cancellationToken);

    public async ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default) =>
        await RequestAsync(NbdCommand.Trim, NbdCommandFlags.None, offset, checked((uint)length), ReadOnlyMemory<byte>.Empty, Memory<byte>.Empty, cancellationToken);

    public async ValueTask WriteZeroesAsync(long offset, long length, bool fua, CancellationToken cancellationToken = default) =>
        await RequestAsync(NbdCommand.WriteZeroes, fua ? NbdCommandFlags.Fua : NbdCommandFlags.None, offset, checked((uint)length), ReadOnlyMemory<byte>.Empty, Memory<byte>.Empty, cancellationToken);

    /// <summary>Sends NBD_CMD_DISC (the polite goodbye) and closes the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            new NbdRequestHeader(NbdCommandFlags.None, NbdCommand.Disconnect, _nextHandle, 0, 0).Write(_header);
            await _stream.WriteAsync(_header);
        }
        catch (IOException)
        {
            // The server is already gone; closing is all that is left.
        }
        await _stream.DisposeAsync();
        _oneRequest.Dispose();
    }

    private async Task RequestAsync(NbdCommand command, NbdCommandFlags flags, long offset, uint length,
        ReadOnlyMemory<byte> payload, Memory<byte> readInto, CancellationToken cancellationToken)
    {
        await _oneRequest.WaitAsync(cancellationToken);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(ReplyTimeout);
            var handle = _nextHandle++;
            new NbdRequestHeader(flags, command, handle, (ulong)offset, length).Write(_header);
            await _stream.WriteAsync(_header, deadline.Token);
            if (!payload.IsEmpty)
            {
                await _stream.WriteAsync(payload, deadline.Token);
            }
            var replyBytes = new byte[NbdProtocol.SimpleReplyHeaderLength];
            await _stream.ReadExactlyAsync(replyBytes, deadline.Token);
            if (!NbdSimpleReplyHeader.TryParse(replyBytes, out var reply) || reply.Handle != handle)
            {
                throw new IOException($"NBD {command} on '{Name}': malformed reply or wrong handle");
            }
            if (reply.Error != NbdError.None)
            {
                throw new IOException($"NBD {command} on '{Name}' at {offset}+{length} failed: {reply.Error}");
            }
            if (!readInto.IsEmpty)
            {
                await _stream.ReadExactlyAsync(readInto, deadline.Token);
            }
        }
        finally
        {
            _oneRequest.Release();
        }
    }

    private static byte[] GoOption(string export)
    {
        var name = Encoding.UTF8.GetBytes(export);
        // Option data: name length (4), name, number of information requests (2) = none.
        var message = new byte[NbdProtocol.OptionHeaderLength + 4 + name.Length + 2];
        new NbdOptionHeader(NbdOption.Go, (uint)(4 + name.Length + 2)).Write(message);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(NbdProtocol.OptionHeaderLength), (uint)name.Length);
        name.CopyTo(message, NbdProtocol.OptionHeaderLength + 4);
        return message;
    }

    /// <summary>NBD_REP_INFO replies until NBD_REP_ACK; the export information carries size (8)
    /// and transmission flags (2).</summary>
    private static async Task<(long Size, NbdTransmissionFlags Flags)> ReadGoRepliesAsync(NetworkStream stream, string export, CancellationToken cancellationToken)
    {
        long? size = null;
        var flags = NbdTransmissionFlags.None;
        var headerBytes = new byte[NbdProtocol.OptionReplyHeaderLength];
        while (true)
        {
            await stream.ReadExactlyAsync(headerBytes, cancellationToken);
            if (!NbdOptionReplyHeader.TryParse(headerBytes, out var header) || header.DataLength > NbdProtocol.MaxStringLength)
            {
                throw new IOException("malformed NBD option reply");
            }
            var data = new byte[header.DataLength];
            await stream.ReadExactlyAsync(data, cancellationToken);
            switch (header.Reply)
            {
                case NbdOptionReply.Ack:
                    return (size ?? throw new IOException($"NBD server sent no size for '{export}'"), flags);
                case NbdOptionReply.Info when data.Length >= 12 && (NbdInfo)BinaryPrimitives.ReadUInt16BigEndian(data) == NbdInfo.Export:
                    size = (long)BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(2));
                    flags = (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(10));
                    break;
                case NbdOptionReply.Info:
                    break;
                default:
                    throw new IOException($"NBD server refused export '{export}': {header.Reply} {Encoding.UTF8.GetString(data)}");
            }
        }
    }
}
