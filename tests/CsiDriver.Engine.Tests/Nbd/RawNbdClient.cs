using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

/// <summary>
/// A deliberately low-level NBD client over a real unix socket: it sends exactly the bytes a test
/// asks for (well-formed or not) and reads the server's answers, so tests can probe the
/// handshake and the request loop message by message.
/// </summary>
internal sealed class RawNbdClient : IAsyncDisposable
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private ulong _nextHandle = 1;

    private RawNbdClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    public long ExportSize { get; private set; }

    public NbdTransmissionFlags ExportFlags { get; private set; }

    public static async Task<RawNbdClient> ConnectAsync(string socketPath)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        return new RawNbdClient(socket);
    }

    /// <summary>Connects, checks the greeting, and enters transmission on <paramref name="export"/> with NBD_OPT_GO.</summary>
    public static async Task<RawNbdClient> OpenAsync(string socketPath, string export, bool structuredReplies = false)
    {
        var client = await ConnectAsync(socketPath);
        await client.ReadGreetingAsync();
        await client.SendRawAsync(BigEndian32((uint)(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes)));
        if (structuredReplies)
        {
            await client.SendOptionAsync(NbdOption.StructuredReply, []);
            Assert.Equal(NbdOptionReply.Ack, (await client.ReadOptionReplyAsync()).Header.Reply);
        }
        await client.SendOptionAsync(NbdOption.Go, GoData(export));
        while (true)
        {
            var (header, data) = await client.ReadOptionReplyAsync();
            if (header.Reply == NbdOptionReply.Ack)
            {
                return client;
            }
            Assert.Equal(NbdOptionReply.Info, header.Reply);
            if ((NbdInfo)BinaryPrimitives.ReadUInt16BigEndian(data) == NbdInfo.Export)
            {
                client.ExportSize = (long)BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(2));
                client.ExportFlags = (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(10));
            }
        }
    }

    public static byte[] GoData(string export, params NbdInfo[] requests)
    {
        var name = Encoding.UTF8.GetBytes(export);
        var data = new byte[4 + name.Length + 2 + 2 * requests.Length];
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)name.Length);
        name.CopyTo(data, 4);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(4 + name.Length), (ushort)requests.Length);
        for (var i = 0; i < requests.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(6 + name.Length + 2 * i), (ushort)requests[i]);
        }
        return data;
    }

    public static byte[] BigEndian32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    public async Task<NbdHandshakeFlags> ReadGreetingAsync()
    {
        var greeting = await ReceiveAsync(NbdProtocol.GreetingLength);
        Assert.Equal(NbdProtocol.InitMagic, BinaryPrimitives.ReadUInt64BigEndian(greeting));
        Assert.Equal(NbdProtocol.OptionMagic, BinaryPrimitives.ReadUInt64BigEndian(greeting.AsSpan(8)));
        return (NbdHandshakeFlags)BinaryPrimitives.ReadUInt16BigEndian(greeting.AsSpan(16));
    }

    public Task SendOptionAsync(NbdOption option, byte[] data)
    {
        var message = new byte[NbdProtocol.OptionHeaderLength + data.Length];
        new NbdOptionHeader(option, (uint)data.Length).Write(message);
        data.CopyTo(message, NbdProtocol.OptionHeaderLength);
        return SendRawAsync(message);
    }

    public async Task<(NbdOptionReplyHeader Header, byte[] Data)> ReadOptionReplyAsync()
    {
        var headerBytes = await ReceiveAsync(NbdProtocol.OptionReplyHeaderLength);
        Assert.True(NbdOptionReplyHeader.TryParse(headerBytes, out var header), "option reply magic");
        return (header, await ReceiveAsync((int)header.DataLength));
    }

    public ulong SendRequest(NbdCommand command, ulong offset, uint length, ReadOnlySpan<byte> payload = default,
        NbdCommandFlags flags = NbdCommandFlags.None)
    {
        var handle = _nextHandle++;
        var message = new byte[NbdProtocol.RequestHeaderLength + payload.Length];
        new NbdRequestHeader(flags, command, handle, offset, length).Write(message);
        payload.CopyTo(message.AsSpan(NbdProtocol.RequestHeaderLength));
        _stream.Write(message);
        return handle;
    }

    public async Task<NbdSimpleReplyHeader> ReadSimpleReplyAsync()
    {
        var bytes = await ReceiveAsync(NbdProtocol.SimpleReplyHeaderLength);
        Assert.True(NbdSimpleReplyHeader.TryParse(bytes, out var reply), "simple reply magic");
        return reply;
    }

    /// <summary>Writes and waits for the reply (simple replies only).</summary>
    public async Task<NbdError> WriteAsync(ulong offset, byte[] data, NbdCommandFlags flags = NbdCommandFlags.None)
    {
        var handle = SendRequest(NbdCommand.Write, offset, (uint)data.Length, data, flags);
        var reply = await ReadSimpleReplyAsync();
        Assert.Equal(handle, reply.Handle);
        return reply.Error;
    }

    /// <summary>Sends FLUSH and waits for the reply (simple replies only).</summary>
    public async Task<NbdError> FlushAsync()
    {
        var handle = SendRequest(NbdCommand.Flush, 0, 0);
        var reply = await ReadSimpleReplyAsync();
        Assert.Equal(handle, reply.Handle);
        return reply.Error;
    }

    /// <summary>Reads and waits for the reply (simple replies only); data is null on error.</summary>
    public async Task<(NbdError Error, byte[]? Data)> ReadAsync(ulong offset, uint length)
    {
        var handle = SendRequest(NbdCommand.Read, offset, length);
        var reply = await ReadSimpleReplyAsync();
        Assert.Equal(handle, reply.Handle);
        return reply.Error == NbdError.None ? (reply.Error, await ReceiveAsync((int)length)) : (reply.Error, null);
    }

    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes) => await _stream.WriteAsync(bytes);

    public async Task<byte[]> ReceiveAsync(int length)
    {
        var data = new byte[length];
        using var deadline = new CancellationTokenSource(ReplyTimeout);
        await _stream.ReadExactlyAsync(data, deadline.Token);
        return data;
    }

    /// <summary>True when the server closes the connection (end of stream or reset) before sending
    /// anything more; false if it sends a byte or stays open past the timeout.</summary>
    public async Task<bool> ServerClosedAsync()
    {
        var buffer = new byte[1];
        using var deadline = new CancellationTokenSource(ReplyTimeout);
        try
        {
            return await _stream.ReadAsync(buffer, deadline.Token) == 0;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Drops the connection at once, as a crashing client would.</summary>
    public void Abort()
    {
        _socket.LingerState = new LingerOption(true, 0);
        _socket.Close();
    }

    public async ValueTask DisposeAsync() => await _stream.DisposeAsync();
}
