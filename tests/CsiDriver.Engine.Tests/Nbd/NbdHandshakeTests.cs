using System.Buffers.Binary;
using System.Text;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

/// <summary>Option haggling against a raw client: replies follow the fixed newstyle rules, and
/// malformed input ends the offending connection only.</summary>
public sealed class NbdHandshakeTests : IAsyncLifetime
{
    private NbdTestEnvironment _env = null!;

    public async Task InitializeAsync() =>
        _env = await NbdTestEnvironment.StartAsync([("alpha", 1024 * 1024), ("beta", 2 * 1024 * 1024)]);

    public async Task DisposeAsync() => await _env.DisposeAsync();

    [Fact]
    public async Task Greeting_offers_fixed_newstyle_and_no_zeroes()
    {
        await using var client = await RawNbdClient.ConnectAsync(_env.SocketPath);
        Assert.Equal(NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes, await client.ReadGreetingAsync());
    }

    [Fact]
    public async Task List_names_every_volume_then_acknowledges()
    {
        await using var client = await StartOptionsAsync();
        await client.SendOptionAsync(NbdOption.List, []);
        var names = new List<string>();
        while (true)
        {
            var (header, data) = await client.ReadOptionReplyAsync();
            if (header.Reply == NbdOptionReply.Ack)
            {
                break;
            }
            Assert.Equal(NbdOptionReply.Server, header.Reply);
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(data);
            names.Add(Encoding.UTF8.GetString(data, 4, length));
        }
        Assert.Equal(["alpha", "beta"], names);
    }

    [Fact]
    public async Task Info_describes_the_export_and_its_block_sizes_then_go_enters_transmission()
    {
        await using var client = await StartOptionsAsync();
        await client.SendOptionAsync(NbdOption.Info, RawNbdClient.GoData("beta", NbdInfo.Name, NbdInfo.Description, NbdInfo.BlockSize));
        var infos = new Dictionary<NbdInfo, byte[]>();
        for (var (header, data) = await client.ReadOptionReplyAsync(); header.Reply != NbdOptionReply.Ack; (header, data) = await client.ReadOptionReplyAsync())
        {
            Assert.Equal((NbdOption.Info, NbdOptionReply.Info), (header.Option, header.Reply));
            infos.Add((NbdInfo)BinaryPrimitives.ReadUInt16BigEndian(data), data[2..]);
        }
        Assert.Equal(2ul * 1024 * 1024, BinaryPrimitives.ReadUInt64BigEndian(infos[NbdInfo.Export]));
        var flags = (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(infos[NbdInfo.Export].AsSpan(8));
        Assert.Equal(
            NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua
            | NbdTransmissionFlags.SendTrim | NbdTransmissionFlags.SendWriteZeroes | NbdTransmissionFlags.CanMultiConnection,
            flags);
        Assert.Equal("beta", Encoding.UTF8.GetString(infos[NbdInfo.Name]));
        Assert.Equal("volume", Encoding.UTF8.GetString(infos[NbdInfo.Description]));
        var sizes = infos[NbdInfo.BlockSize];
        Assert.Equal((1u, 4096u, 32u * 1024 * 1024),
            (BinaryPrimitives.ReadUInt32BigEndian(sizes), BinaryPrimitives.ReadUInt32BigEndian(sizes.AsSpan(4)), BinaryPrimitives.ReadUInt32BigEndian(sizes.AsSpan(8))));

        // Still haggling after INFO: GO now enters transmission.
        await client.SendOptionAsync(NbdOption.Go, RawNbdClient.GoData("beta"));
        while ((await client.ReadOptionReplyAsync()).Header.Reply != NbdOptionReply.Ack)
        {
        }
        Assert.Equal(NbdError.None, (await client.ReadAsync(0, 4096)).Error);
    }

    [Fact]
    public async Task Unknown_options_and_bad_option_data_are_refused_and_haggling_goes_on()
    {
        await using var client = await StartOptionsAsync();
        await AssertReplyAsync(client, (NbdOption)99, [], NbdOptionReply.ErrorUnsupported);
        await AssertReplyAsync(client, NbdOption.StartTls, [], NbdOptionReply.ErrorUnsupported);
        await AssertReplyAsync(client, NbdOption.SetMetaContext, new byte[8], NbdOptionReply.ErrorUnsupported);
        await AssertReplyAsync(client, NbdOption.List, [1, 2, 3], NbdOptionReply.ErrorInvalid);
        await AssertReplyAsync(client, NbdOption.StructuredReply, [1], NbdOptionReply.ErrorInvalid);
        await AssertReplyAsync(client, NbdOption.Go, [0, 0, 0, 200, 0, 0], NbdOptionReply.ErrorInvalid);
        await AssertReplyAsync(client, NbdOption.Go, [.. RawNbdClient.GoData("alpha"), 7], NbdOptionReply.ErrorInvalid);
        await AssertReplyAsync(client, NbdOption.Go, RawNbdClient.GoData("nope"), NbdOptionReply.ErrorUnknown);
        await AssertReplyAsync(client, NbdOption.Abort, [], NbdOptionReply.Ack);
        Assert.True(await client.ServerClosedAsync());
    }

    [Fact]
    public async Task Export_name_option_enters_transmission_without_padding_when_no_zeroes_was_agreed()
    {
        await using var client = await StartOptionsAsync();
        await client.SendOptionAsync(NbdOption.ExportName, Encoding.UTF8.GetBytes("alpha"));
        var reply = await client.ReceiveAsync(10);
        Assert.Equal(1024ul * 1024, BinaryPrimitives.ReadUInt64BigEndian(reply));
        Assert.Equal(NbdError.None, (await client.ReadAsync(4096, 4096)).Error);
    }

    [Fact]
    public async Task Export_name_option_for_an_unknown_export_closes_the_connection()
    {
        await using var client = await StartOptionsAsync();
        await client.SendOptionAsync(NbdOption.ExportName, Encoding.UTF8.GetBytes("nope"));
        Assert.True(await client.ServerClosedAsync());
    }

    [Theory]
    [InlineData("unknown client flags")]
    [InlineData("request before handshake")]
    [InlineData("oversized option")]
    [InlineData("truncated option")]
    public async Task Malformed_handshakes_close_only_their_connection(string abuse)
    {
        await using var good = await RawNbdClient.OpenAsync(_env.SocketPath, "alpha");
        await using (var bad = await RawNbdClient.ConnectAsync(_env.SocketPath))
        {
            await bad.ReadGreetingAsync();
            if (abuse == "unknown client flags")
            {
                await bad.SendRawAsync(RawNbdClient.BigEndian32(0x80));
                Assert.True(await bad.ServerClosedAsync());
            }
            else
            {
                await bad.SendRawAsync(RawNbdClient.BigEndian32((uint)NbdClientFlags.FixedNewstyle));
                await SendAbuseAsync(bad, abuse);
            }
        }
        var data = NbdTestEnvironment.RandomBytes(4096, seed: abuse.Length);
        Assert.Equal(NbdError.None, await good.WriteAsync(0, data));
        Assert.Equal(data, await _env.ReadVolumeAsync("alpha", 0, 4096));
    }

    private static async Task SendAbuseAsync(RawNbdClient bad, string abuse)
    {
        switch (abuse)
        {
            case "request before handshake":
                bad.SendRequest(NbdCommand.Read, 0, 4096);
                Assert.True(await bad.ServerClosedAsync());
                break;
            case "oversized option":
                var header = new byte[NbdProtocol.OptionHeaderLength];
                new NbdOptionHeader(NbdOption.Go, 1u << 30).Write(header);
                await bad.SendRawAsync(header);
                Assert.True(await bad.ServerClosedAsync());
                break;
            case "truncated option":
                await bad.SendRawAsync(new byte[] { 0x49, 0x48, 0x41 });
                bad.Abort();
                break;
        }
    }

    private async Task<RawNbdClient> StartOptionsAsync()
    {
        var client = await RawNbdClient.ConnectAsync(_env.SocketPath);
        await client.ReadGreetingAsync();
        await client.SendRawAsync(RawNbdClient.BigEndian32((uint)(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes)));
        return client;
    }

    private static async Task AssertReplyAsync(RawNbdClient client, NbdOption option, byte[] data, NbdOptionReply expected)
    {
        await client.SendOptionAsync(option, data);
        var (header, _) = await client.ReadOptionReplyAsync();
        Assert.Equal((option, expected), (header.Option, header.Reply));
    }
}
