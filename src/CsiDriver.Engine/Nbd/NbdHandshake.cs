using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace CsiDriver.Engine.Nbd;

/// <summary>
/// The fixed newstyle handshake (option haggling) of one connection: greeting, client flags,
/// then options until the client picks an export (NBD_OPT_GO or NBD_OPT_EXPORT_NAME), aborts,
/// or breaks the protocol. Unknown options are answered NBD_REP_ERR_UNSUP, as the protocol asks.
/// </summary>
internal sealed class NbdHandshake(NbdReceiveBuffer input, Socket socket, NbdServerOptions options)
{
    /// <summary>Option data beyond this closes the connection: the largest legal option (INFO/GO
    /// with a 4096-byte name and a few info requests) is far smaller.</summary>
    private const int MaxOptionDataLength = 16 * 1024;

    private const NbdHandshakeFlags ServerFlags = NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes;

    private bool _noZeroes;
    private bool _structuredReplies;

    /// <summary>Why the handshake closed the connection, when it did so for a protocol violation.</summary>
    public string? Violation { get; private set; }

    /// <summary>The negotiated session, or null when the connection must close (abort, violation,
    /// or an unknown name given to NBD_OPT_EXPORT_NAME, which cannot answer with an error).</summary>
    public NbdSession? Run()
    {
        var greeting = new byte[NbdProtocol.GreetingLength];
        BinaryPrimitives.WriteUInt64BigEndian(greeting, NbdProtocol.InitMagic);
        BinaryPrimitives.WriteUInt64BigEndian(greeting.AsSpan(8), NbdProtocol.OptionMagic);
        BinaryPrimitives.WriteUInt16BigEndian(greeting.AsSpan(16), (ushort)ServerFlags);
        NbdReplyWriter.SendAll(socket, greeting);

        var clientFlagBytes = new byte[4];
        input.ReadExactly(clientFlagBytes);
        var clientFlags = (NbdClientFlags)BinaryPrimitives.ReadUInt32BigEndian(clientFlagBytes);
        if ((clientFlags & ~(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes)) != 0)
        {
            return Fail($"unknown client flags 0x{(uint)clientFlags:x}");
        }
        _noZeroes = clientFlags.HasFlag(NbdClientFlags.NoZeroes);

        var headerBytes = new byte[NbdProtocol.OptionHeaderLength];
        while (true)
        {
            input.ReadExactly(headerBytes);
            if (!NbdOptionHeader.TryParse(headerBytes, out var header))
            {
                return Fail("bad option magic");
            }
            if (header.DataLength > MaxOptionDataLength)
            {
                return Fail($"option {header.Option} carries {header.DataLength} bytes");
            }
            var data = new byte[header.DataLength];
            input.ReadExactly(data);
            var outcome = HandleOption(header.Option, data);
            if (outcome.Done)
            {
                return outcome.Session;
            }
        }
    }

    private (bool Done, NbdSession? Session) HandleOption(NbdOption option, byte[] data)
    {
        switch (option)
        {
            case NbdOption.ExportName:
                return (true, ExportName(data));
            case NbdOption.Abort:
                Reply(option, NbdOptionReply.Ack, []);
                return (true, null);
            case NbdOption.List when data.Length == 0:
                foreach (var export in options.Exports.List())
                {
                    Reply(option, NbdOptionReply.Server, ServerReply(export.Name));
                }
                Reply(option, NbdOptionReply.Ack, []);
                return (false, null);
            case NbdOption.StructuredReply when data.Length == 0:
                _structuredReplies = true;
                Reply(option, NbdOptionReply.Ack, []);
                return (false, null);
            case NbdOption.List or NbdOption.StructuredReply:
                Error(option, NbdOptionReply.ErrorInvalid, $"{option} takes no data");
                return (false, null);
            case NbdOption.Info or NbdOption.Go:
                var session = Info(option, data);
                return (option == NbdOption.Go && session is not null, session);
            default:
                // STARTTLS included: exports are served on local sockets without TLS.
                Error(option, NbdOptionReply.ErrorUnsupported, $"option {(uint)option} is not supported");
                return (false, null);
        }
    }

    private NbdSession? ExportName(byte[] data)
    {
        if (!TryDecodeName(data, out var name) || options.Exports.Open(name) is not { } device)
        {
            Violation = "NBD_OPT_EXPORT_NAME named no export";
            return null;
        }
        var session = NbdSession.Create(name, device, _structuredReplies);
        var reply = new byte[10 + (_noZeroes ? 0 : NbdProtocol.ExportNameReplyPadding)];
        BinaryPrimitives.WriteUInt64BigEndian(reply, (ulong)session.Size);
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(8), (ushort)session.Flags);
        NbdReplyWriter.SendAll(socket, reply);
        return session;
    }

    /// <summary>NBD_OPT_INFO and NBD_OPT_GO: name length (4) · name · request count (2) · info types (2 each).</summary>
    private NbdSession? Info(NbdOption option, byte[] data)
    {
        var requested = ParseInfoRequest(data, out var name);
        if (requested is null)
        {
            Error(option, NbdOptionReply.ErrorInvalid, "malformed export name or information request list");
            return null;
        }
        if (options.Exports.Open(name!) is not { } device)
        {
            Error(option, NbdOptionReply.ErrorUnknown, $"no export named '{name}'");
            return null;
        }
        var session = NbdSession.Create(name!, device, _structuredReplies);
        var export = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(export, (ushort)NbdInfo.Export);
        BinaryPrimitives.WriteUInt64BigEndian(export.AsSpan(2), (ulong)session.Size);
        BinaryPrimitives.WriteUInt16BigEndian(export.AsSpan(10), (ushort)session.Flags);
        Reply(option, NbdOptionReply.Info, export);

        // Sent whether asked or not, so clients that understand it align their requests.
        var blockSize = new byte[14];
        BinaryPrimitives.WriteUInt16BigEndian(blockSize, (ushort)NbdInfo.BlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(blockSize.AsSpan(2), (uint)options.MinimumBlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(blockSize.AsSpan(6), (uint)options.PreferredBlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(blockSize.AsSpan(10), (uint)options.MaxPayloadBytes);
        Reply(option, NbdOptionReply.Info, blockSize);

        if (requested.Contains(NbdInfo.Name))
        {
            Reply(option, NbdOptionReply.Info, InfoString(NbdInfo.Name, name!));
        }
        if (requested.Contains(NbdInfo.Description)
            && options.Exports.List().FirstOrDefault(e => e.Name == name)?.Description is { } description)
        {
            Reply(option, NbdOptionReply.Info, InfoString(NbdInfo.Description, description));
        }
        Reply(option, NbdOptionReply.Ack, []);
        return session;
    }

    private static HashSet<NbdInfo>? ParseInfoRequest(ReadOnlySpan<byte> data, out string? name)
    {
        name = null;
        if (data.Length < 6)
        {
            return null;
        }
        var nameLength = BinaryPrimitives.ReadUInt32BigEndian(data);
        if (nameLength > data.Length - 6 || !TryDecodeName(data.Slice(4, (int)nameLength), out name))
        {
            return null;
        }
        var rest = data[(4 + (int)nameLength)..];
        var count = BinaryPrimitives.ReadUInt16BigEndian(rest);
        if (rest.Length != 2 + 2 * count)
        {
            return null;
        }
        var requested = new HashSet<NbdInfo>();
        for (var i = 0; i < count; i++)
        {
            requested.Add((NbdInfo)BinaryPrimitives.ReadUInt16BigEndian(rest[(2 + 2 * i)..]));
        }
        return requested;
    }

    /// <summary>Export names are UTF-8, at most 4096 bytes, without NUL.</summary>
    private static bool TryDecodeName(ReadOnlySpan<byte> bytes, out string name)
    {
        name = "";
        if (bytes.Length > NbdProtocol.MaxStringLength || bytes.Contains((byte)0))
        {
            return false;
        }
        try
        {
            name = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private static byte[] ServerReply(string exportName)
    {
        var name = Encoding.UTF8.GetBytes(exportName);
        var data = new byte[4 + name.Length];
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)name.Length);
        name.CopyTo(data, 4);
        return data;
    }

    private static byte[] InfoString(NbdInfo type, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var data = new byte[2 + bytes.Length];
        BinaryPrimitives.WriteUInt16BigEndian(data, (ushort)type);
        bytes.CopyTo(data, 2);
        return data;
    }

    private void Error(NbdOption option, NbdOptionReply error, string message) =>
        Reply(option, error, Encoding.UTF8.GetBytes(message));

    private void Reply(NbdOption option, NbdOptionReply reply, byte[] data)
    {
        var message = new byte[NbdProtocol.OptionReplyHeaderLength + data.Length];
        new NbdOptionReplyHeader(option, reply, (uint)data.Length).Write(message);
        data.CopyTo(message, NbdProtocol.OptionReplyHeaderLength);
        NbdReplyWriter.SendAll(socket, message);
    }

    private NbdSession? Fail(string violation)
    {
        Violation = violation;
        return null;
    }
}
