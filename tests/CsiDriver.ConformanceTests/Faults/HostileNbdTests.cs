using System.Net.Sockets;
using System.Text;
using CsiDriver.ConformanceTests.Infrastructure;
using CsiDriver.Engine.Nbd;
using CsiDriver.TestSupport;
using CsiDriver.Engine.Tests.Nbd;
using Xunit.Abstractions;

namespace CsiDriver.ConformanceTests.Faults;

/// <summary>
/// Hostile NBD sessions against the published binary's export socket, while a verifying writer
/// keeps writing (FUA) and reading back its own volume: export names that try to leave the
/// catalog (path traversal, absolute paths, a real id with something around it), broken
/// handshakes, requests out of range or overflowing 64 bits, unaligned, unknown, lying about
/// their payload, and 200 such clients at once. No name but a volume id may open an export, no
/// hostile request may succeed, a write cut short must leave nothing behind, and the writer's
/// data must be exactly what it wrote.
/// </summary>
public sealed class HostileNbdTests(DriverFixture fixture, ITestOutputHelper output) : IClassFixture<DriverFixture>
{
    private const int Block = 4096;
    private const int ConcurrentAttackers = 200;
    private readonly FaultFigures _figures = new("hostile NBD sessions");

    [Fact]
    public async Task No_hostile_session_opens_a_file_succeeds_or_disturbs_a_writer()
    {
        var socket = Path.Combine(fixture.Driver.Workspace.DataDirectory, "nbd.sock");
        var verified = (await fixture.Csi.CreateAsync("nbd-verified", Volumes.Block(), requiredBytes: 8 * Volumes.MiB)).VolumeId;
        var target = (await fixture.Csi.CreateAsync("nbd-target", Volumes.Block(), requiredBytes: 8 * Volumes.MiB)).VolumeId;
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() => WriteAndVerifyAsync(socket, verified, stop.Token));

        foreach (var name in HostileNames(verified))
        {
            await TryOpenAsync(socket, name);
        }
        foreach (var abuse in HandshakeAbuses)
        {
            await RunCaseAsync($"handshake: {abuse}", () => AbuseHandshakeAsync(socket, abuse));
        }
        foreach (var abuse in RequestAbuses)
        {
            await RunCaseAsync($"request: {abuse}", () => AbuseRequestsAsync(socket, target, abuse));
        }
        var random = new Random(20261205);
        var kinds = Enumerable.Range(0, ConcurrentAttackers).Select(_ => random.Next(HandshakeAbuses.Length + RequestAbuses.Length)).ToList();
        await Task.WhenAll(kinds.Select(kind => RunCaseAsync($"concurrent attacker {kind}", () => kind < HandshakeAbuses.Length
            ? AbuseHandshakeAsync(socket, HandshakeAbuses[kind])
            : AbuseRequestsAsync(socket, target, RequestAbuses[kind - HandshakeAbuses.Length]))));

        stop.Cancel();
        var written = await writer;
        _figures.Count("blocks written and verified", written);
        _figures.Case(fixture.Driver.HasExited ? "csidriver exited" : null);
        await using var check = await RawNbdClient.OpenAsync(socket, target);
        var (error, data) = await check.ReadAsync(0, 8 * (uint)Volumes.MiB);
        _figures.Case(error != NbdError.None || data!.Any(b => b != 0) ? "the target volume was changed by a hostile request" : null);
        _figures.Report(output);
    }

    /// <summary>Writes each block with FUA and reads it back, round after round, until stopped;
    /// then reads the whole volume over a new connection and compares. Returns blocks written.</summary>
    private async Task<long> WriteAndVerifyAsync(string socket, string volume, CancellationToken stop)
    {
        var model = new byte[8 * Volumes.MiB];
        long written = 0;
        await using (var device = await NbdBlockDevice.OpenAsync(socket, volume))
        {
            var random = new Random(7);
            while (!stop.IsCancellationRequested && written < 100_000)
            {
                var offset = random.Next(model.Length / Block) * Block;
                var data = RandomMessages.RandomBytes(random, Block);
                await device.WriteAsync(offset, data, fua: true);
                data.CopyTo(model, offset);
                var back = new byte[Block];
                await device.ReadAsync(offset, back);
                _figures.Case(back.AsSpan().SequenceEqual(data) ? null : $"the writer read back other data at {offset}");
                written++;
            }
        }
        await using var reader = await NbdBlockDevice.OpenAsync(socket, volume);
        var all = new byte[model.Length];
        await reader.ReadAsync(0, all);
        _figures.Case(all.AsSpan().SequenceEqual(model) ? null : "the writer's volume differs from what it wrote");
        return written;
    }

    private static IEnumerable<string> HostileNames(string volume) =>
    [
        "", ".", "..", "../state.db", "../../etc/passwd", "/etc/passwd", "engine/catalog", "engine", "nbd.sock",
        $"../{volume}", $"./{volume}", $"{volume}/", $"{volume}/..", $"{volume}\0", $" {volume}", volume.ToUpperInvariant(),
        "%2e%2e%2fstate.db", new string('a', 4096), "\u202e" + volume,
    ];

    /// <summary>NBD_OPT_GO and then NBD_OPT_EXPORT_NAME with the name: neither may enter transmission.</summary>
    private async Task TryOpenAsync(string socket, string name)
    {
        await RunCaseAsync($"export name '{Printable(name)}' (GO)", async () =>
        {
            await using var client = await StartOptionsAsync(socket);
            await client.SendOptionAsync(NbdOption.Go, RawNbdClient.GoData(name));
            var (header, _) = await client.ReadOptionReplyAsync();
            return header.Reply == NbdOptionReply.Ack || header.Reply == NbdOptionReply.Info ? "the server entered transmission" : null;
        });
        await RunCaseAsync($"export name '{Printable(name)}' (EXPORT_NAME)", async () =>
        {
            await using var client = await StartOptionsAsync(socket);
            await client.SendOptionAsync(NbdOption.ExportName, Encoding.UTF8.GetBytes(name));
            return await client.ServerClosedAsync() ? null : "the server answered instead of closing";
        });
    }

    private static readonly string[] HandshakeAbuses =
    [
        "unknown client flags", "garbage for client flags", "option length of 4 GiB", "option cut short", "request before the handshake",
        "unknown option", "hang up after the greeting",
    ];

    private static async Task<string?> AbuseHandshakeAsync(string socket, string abuse)
    {
        await using var client = await RawNbdClient.ConnectAsync(socket);
        await client.ReadGreetingAsync();
        switch (abuse)
        {
            case "unknown client flags":
                await client.SendRawAsync(RawNbdClient.BigEndian32(0x80));
                return await client.ServerClosedAsync() ? null : "unknown client flags were accepted";
            case "garbage for client flags":
                await client.SendRawAsync(RandomMessages.RandomBytes(new Random(abuse.Length), 300));
                return await client.ServerClosedAsync() ? null : "garbage was accepted";
            case "hang up after the greeting":
                client.Abort();
                return null;
        }
        await client.SendRawAsync(RawNbdClient.BigEndian32((uint)NbdClientFlags.FixedNewstyle));
        switch (abuse)
        {
            case "option length of 4 GiB":
                var header = new byte[NbdProtocol.OptionHeaderLength];
                new NbdOptionHeader(NbdOption.Go, uint.MaxValue).Write(header);
                await client.SendRawAsync(header);
                return await client.ServerClosedAsync() ? null : "a 4 GiB option was waited for";
            case "option cut short":
                var cut = new byte[NbdProtocol.OptionHeaderLength + 4];
                new NbdOptionHeader(NbdOption.Go, 100).Write(cut);
                await client.SendRawAsync(cut);
                client.Abort();
                return null;
            case "request before the handshake":
                var request = new byte[NbdProtocol.RequestHeaderLength];
                new NbdRequestHeader(NbdCommandFlags.None, NbdCommand.Write, 1, 0, Block).Write(request);
                await client.SendRawAsync(request);
                return await client.ServerClosedAsync() ? null : "a request was taken during the handshake";
            default:
                await client.SendOptionAsync((NbdOption)0x7777, [1, 2, 3]);
                var (reply, _) = await client.ReadOptionReplyAsync();
                return reply.Reply == NbdOptionReply.ErrorUnsupported ? null : $"an unknown option got {reply.Reply}";
        }
    }

    private static readonly string[] RequestAbuses =
    [
        "read at the end", "write past the end", "trim past the end", "zeroes past the end", "offset overflowing 64 bits",
        "one byte past the end", "zero length", "read of 64 MiB", "unknown command", "unknown flags", "flush with a range", "cache",
        "write cut short", "bad request magic",
    ];

    private static async Task<string?> AbuseRequestsAsync(string socket, string volume, string abuse)
    {
        await using var client = await RawNbdClient.OpenAsync(socket, volume);
        var size = (ulong)client.ExportSize;
        switch (abuse)
        {
            case "write cut short":
                var header = new byte[NbdProtocol.RequestHeaderLength];
                new NbdRequestHeader(NbdCommandFlags.None, NbdCommand.Write, 1, 0, 64 * 1024).Write(header);
                await client.SendRawAsync(header);
                await client.SendRawAsync(Enumerable.Repeat((byte)0xAB, 100).ToArray());
                client.Abort();
                return null; // the volume is checked for zeroes at the end
            case "bad request magic":
                await client.SendRawAsync(new byte[NbdProtocol.RequestHeaderLength]);
                return await client.ServerClosedAsync() ? null : "a request with a bad magic was taken";
        }
        (NbdCommand command, ulong offset, uint length, NbdCommandFlags flags) = abuse switch
        {
            "read at the end" => (NbdCommand.Read, size, (uint)Block, NbdCommandFlags.None),
            "write past the end" => (NbdCommand.Write, size - Block, 2u * Block, NbdCommandFlags.None),
            "trim past the end" => (NbdCommand.Trim, size - Block, 2u * Block, NbdCommandFlags.None),
            "zeroes past the end" => (NbdCommand.WriteZeroes, size, uint.MaxValue & ~(uint)(Block - 1), NbdCommandFlags.None),
            "offset overflowing 64 bits" => (NbdCommand.Trim, ulong.MaxValue - Block + 1, 2u * Block, NbdCommandFlags.None),
            "one byte past the end" => (NbdCommand.Write, size - 1, 2u, NbdCommandFlags.None),
            "zero length" => (NbdCommand.Read, 0ul, 0u, NbdCommandFlags.None),
            "read of 64 MiB" => (NbdCommand.Read, 0ul, 64u << 20, NbdCommandFlags.None),
            "unknown command" => ((NbdCommand)99, 0ul, (uint)Block, NbdCommandFlags.None),
            "unknown flags" => (NbdCommand.Trim, 0ul, (uint)Block, (NbdCommandFlags)0x4000),
            "flush with a range" => (NbdCommand.Flush, 0ul, (uint)Block, NbdCommandFlags.None),
            _ => (NbdCommand.Cache, 0ul, (uint)Block, NbdCommandFlags.None),
        };
        var payload = command == NbdCommand.Write ? new byte[length] : [];
        Array.Fill(payload, (byte)0xCD);
        var handle = client.SendRequest(command, offset, length, payload, flags);
        var reply = await client.ReadSimpleReplyAsync();
        return reply.Handle != handle ? "the reply named another request"
            : reply.Error == NbdError.None ? "the request succeeded"
            : null;
    }

    private static async Task<RawNbdClient> StartOptionsAsync(string socket)
    {
        var client = await RawNbdClient.ConnectAsync(socket);
        await client.ReadGreetingAsync();
        await client.SendRawAsync(RawNbdClient.BigEndian32((uint)(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes)));
        return client;
    }

    /// <summary>Runs one case; an exception (a reply that broke the protocol, a timeout) is its
    /// failure. A connect the kernel refused because the listen backlog was full (EAGAIN on a
    /// unix socket: 200 clients arrive faster than the server accepts) is tried again, and
    /// counted.</summary>
    private async Task RunCaseAsync(string name, Func<Task<string?>> run)
    {
        string? failure;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                failure = await run();
                break;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.TryAgain && attempt < 50)
            {
                _figures.Count("connects refused by a full listen backlog");
                await Task.Delay(20);
            }
            catch (Exception e)
            {
                failure = e.GetType().Name + ": " + e.Message;
                break;
            }
        }
        _figures.Case(failure is null ? null : $"{name}: {failure}");
    }

    private static string Printable(string name) =>
        name.Length > 40 ? name[..40] + $"… ({name.Length} chars)" : name.Replace("\0", "\\0", StringComparison.Ordinal);
}
