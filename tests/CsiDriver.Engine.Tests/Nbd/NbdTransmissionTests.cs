using System.Buffers.Binary;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

/// <summary>The request loop against raw, often hostile, clients. After every abuse a
/// well-behaved client on another connection must still read and write correctly.</summary>
public sealed class NbdTransmissionTests : IAsyncLifetime
{
    private const long VolumeSize = 4 * NbdTestEnvironment.MiB;
    private NbdTestEnvironment _env = null!;

    public async Task InitializeAsync() =>
        _env = await NbdTestEnvironment.StartAsync([("vol", VolumeSize), ("frozen", VolumeSize)], new HashSet<string> { "frozen" });

    public async Task DisposeAsync() => await _env.DisposeAsync();

    [Fact]
    public async Task Write_read_flush_trim_and_write_zeroes_reach_the_engine()
    {
        await using var client = await RawNbdClient.OpenAsync(_env.SocketPath, "vol");
        Assert.Equal(VolumeSize, client.ExportSize);
        var data = NbdTestEnvironment.RandomBytes(64 * 1024, seed: 1);

        Assert.Equal(NbdError.None, await client.WriteAsync(8192, data, NbdCommandFlags.Fua));
        Assert.Equal(data, await _env.ReadVolumeAsync("vol", 8192, data.Length));
        var (error, readBack) = await client.ReadAsync(8192, (uint)data.Length);
        Assert.Equal(NbdError.None, error);
        Assert.Equal(data, readBack);

        client.SendRequest(NbdCommand.Flush, 0, 0);
        Assert.Equal(NbdError.None, (await client.ReadSimpleReplyAsync()).Error);
        client.SendRequest(NbdCommand.Trim, 8192, 4096);
        Assert.Equal(NbdError.None, (await client.ReadSimpleReplyAsync()).Error);
        client.SendRequest(NbdCommand.WriteZeroes, 8192 + 4096, 4096, flags: NbdCommandFlags.NoHole | NbdCommandFlags.Fua);
        Assert.Equal(NbdError.None, (await client.ReadSimpleReplyAsync()).Error);

        var after = await _env.ReadVolumeAsync("vol", 8192, data.Length);
        Assert.All(after[..8192], b => Assert.Equal(0, b));
        Assert.Equal(data[8192..], after[8192..]);
    }

    [Fact]
    public async Task Trim_and_write_zeroes_of_2_GiB_and_more_are_carried_out()
    {
        // Lengths past int.MaxValue are legal (the field is 32 bits unsigned); a 5 GiB volume, thin.
        const long big = 5L << 30;
        await using var env = await NbdTestEnvironment.StartAsync([("big", big)]);
        await using var client = await RawNbdClient.OpenAsync(env.SocketPath, "big");
        var data = NbdTestEnvironment.RandomBytes(4096, seed: 9);
        foreach (var offset in new[] { 0UL, 1UL << 30, 3UL << 30, (ulong)big - 4096 })
        {
            Assert.Equal(NbdError.None, await client.WriteAsync(offset, data));
        }

        client.SendRequest(NbdCommand.Trim, 0, 0x80000000);
        Assert.Equal(NbdError.None, (await client.ReadSimpleReplyAsync()).Error);
        Assert.All(await env.ReadVolumeAsync("big", 0, 4096), b => Assert.Equal(0, b));
        Assert.All(await env.ReadVolumeAsync("big", 1L << 30, 4096), b => Assert.Equal(0, b));
        Assert.Equal(data, await env.ReadVolumeAsync("big", 3L << 30, 4096));

        client.SendRequest(NbdCommand.WriteZeroes, 1UL << 30, 0xFFFFFFFF, flags: NbdCommandFlags.Fua);
        Assert.Equal(NbdError.None, (await client.ReadSimpleReplyAsync()).Error);
        Assert.All(await env.ReadVolumeAsync("big", 3L << 30, 4096), b => Assert.Equal(0, b));
        // The last byte of the volume lies past 1 GiB + 0xFFFFFFFF and keeps its data.
        Assert.Equal(data[^1], (await env.ReadVolumeAsync("big", big - 1, 1))[0]);
        Assert.All((await env.ReadVolumeAsync("big", big - 4096, 4095)), b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task Pipelined_requests_are_all_answered_with_their_own_handles()
    {
        await using var client = await RawNbdClient.OpenAsync(_env.SocketPath, "vol");
        var blocks = Enumerable.Range(0, 128).Select(i => NbdTestEnvironment.RandomBytes(4096, seed: 100 + i)).ToArray();
        var handles = new HashSet<ulong>();
        for (var i = 0; i < blocks.Length; i++)
        {
            handles.Add(client.SendRequest(NbdCommand.Write, (ulong)(i * 4096), 4096, blocks[i]));
        }
        for (var i = 0; i < blocks.Length; i++)
        {
            var reply = await client.ReadSimpleReplyAsync();
            Assert.Equal(NbdError.None, reply.Error);
            Assert.True(handles.Remove(reply.Handle), $"unexpected or repeated handle {reply.Handle}");
        }
        Assert.Equal(blocks.SelectMany(b => b).ToArray(), await _env.ReadVolumeAsync("vol", 0, blocks.Length * 4096));
    }

    [Fact]
    public async Task Bad_requests_get_errors_and_the_connection_stays_usable()
    {
        await using var client = await RawNbdClient.OpenAsync(_env.SocketPath, "vol");
        var block = new byte[4096];

        Assert.Equal(NbdError.NoSpace, await client.WriteAsync((ulong)VolumeSize - 2048, block));
        Assert.Equal(NbdError.NoSpace, await client.WriteAsync(ulong.MaxValue - 100, block));
        Assert.Equal(NbdError.InvalidArgument, (await client.ReadAsync((ulong)VolumeSize, 1)).Error);
        Assert.Equal(NbdError.InvalidArgument, (await client.ReadAsync(0, 64 * 1024 * 1024)).Error);
        Assert.Equal(NbdError.InvalidArgument, (await client.ReadAsync(0, 0)).Error);
        Assert.Equal(NbdError.InvalidArgument, await client.WriteAsync(0, block, (NbdCommandFlags)0x8000));
        Assert.Equal(NbdError.InvalidArgument, await client.WriteAsync(0, block, NbdCommandFlags.NoHole));
        foreach (var command in new[] { NbdCommand.Cache, NbdCommand.BlockStatus, (NbdCommand)77 })
        {
            client.SendRequest(command, 0, 4096);
            Assert.Equal(NbdError.InvalidArgument, (await client.ReadSimpleReplyAsync()).Error);
        }
        client.SendRequest(NbdCommand.Flush, 0, 4096);
        Assert.Equal(NbdError.InvalidArgument, (await client.ReadSimpleReplyAsync()).Error);

        var data = NbdTestEnvironment.RandomBytes(4096, seed: 2);
        Assert.Equal(NbdError.None, await client.WriteAsync(0, data));
        Assert.Equal(data, (await client.ReadAsync(0, 4096)).Data);
    }

    [Fact]
    public async Task Read_only_export_refuses_changes_and_keeps_its_data()
    {
        var original = NbdTestEnvironment.RandomBytes(4096, seed: 3);
        await _env.Engine.GetVolume("frozen").WriteAsync(0, original, fua: false);
        await using var client = await RawNbdClient.OpenAsync(_env.SocketPath, "frozen");
        Assert.True(client.ExportFlags.HasFlag(NbdTransmissionFlags.ReadOnly));
        Assert.False(client.ExportFlags.HasFlag(NbdTransmissionFlags.SendTrim));

        Assert.Equal(NbdError.NotPermitted, await client.WriteAsync(0, new byte[4096]));
        client.SendRequest(NbdCommand.Trim, 0, 4096);
        Assert.Equal(NbdError.NotPermitted, (await client.ReadSimpleReplyAsync()).Error);
        client.SendRequest(NbdCommand.WriteZeroes, 0, 4096);
        Assert.Equal(NbdError.NotPermitted, (await client.ReadSimpleReplyAsync()).Error);

        Assert.Equal(original, (await client.ReadAsync(0, 4096)).Data);
        Assert.Equal(original, await _env.ReadVolumeAsync("frozen", 0, 4096));
    }

    [Fact]
    public async Task Structured_replies_carry_read_data_and_error_chunks()
    {
        var data = NbdTestEnvironment.RandomBytes(8192, seed: 4);
        await _env.Engine.GetVolume("vol").WriteAsync(4096, data, fua: false);
        await using var client = await RawNbdClient.OpenAsync(_env.SocketPath, "vol", structuredReplies: true);

        var handle = client.SendRequest(NbdCommand.Read, 4096, 8192);
        Assert.True(NbdStructuredReplyHeader.TryParse(await client.ReceiveAsync(NbdProtocol.StructuredReplyHeaderLength), out var chunk));
        Assert.Equal((handle, NbdReplyChunk.OffsetData, NbdReplyChunkFlags.Done, 8u + 8192u), (chunk.Handle, chunk.Type, chunk.Flags, chunk.PayloadLength));
        var payload = await client.ReceiveAsync((int)chunk.PayloadLength);
        Assert.Equal(4096ul, BinaryPrimitives.ReadUInt64BigEndian(payload));
        Assert.Equal(data, payload[8..]);

        handle = client.SendRequest(NbdCommand.Read, (ulong)VolumeSize, 4096);
        Assert.True(NbdStructuredReplyHeader.TryParse(await client.ReceiveAsync(NbdProtocol.StructuredReplyHeaderLength), out chunk));
        Assert.Equal((handle, NbdReplyChunk.Error), (chunk.Handle, chunk.Type));
        var error = await client.ReceiveAsync((int)chunk.PayloadLength);
        Assert.Equal(NbdError.InvalidArgument, (NbdError)BinaryPrimitives.ReadUInt32BigEndian(error));
        Assert.Equal(chunk.PayloadLength - 6, BinaryPrimitives.ReadUInt16BigEndian(error.AsSpan(4)));
    }

    [Fact]
    public async Task Protocol_violations_close_only_the_offending_connection()
    {
        await using var good = await RawNbdClient.OpenAsync(_env.SocketPath, "vol");

        await using (var badMagic = await RawNbdClient.OpenAsync(_env.SocketPath, "vol"))
        {
            await badMagic.SendRawAsync(NbdTestEnvironment.RandomBytes(NbdProtocol.RequestHeaderLength, seed: 5));
            Assert.True(await badMagic.ServerClosedAsync());
        }
        await using (var oversized = await RawNbdClient.OpenAsync(_env.SocketPath, "vol"))
        {
            oversized.SendRequest(NbdCommand.Write, 0, uint.MaxValue);
            Assert.True(await oversized.ServerClosedAsync());
        }
        await using (var truncated = await RawNbdClient.OpenAsync(_env.SocketPath, "vol"))
        {
            var header = new byte[NbdProtocol.RequestHeaderLength];
            new NbdRequestHeader(NbdCommandFlags.None, NbdCommand.Read, 9, 0, 4096).Write(header);
            await truncated.SendRawAsync(header.AsMemory(0, 11));
            truncated.Abort();
        }
        await AssertStillServesAsync(good, seed: 6);
    }

    [Fact]
    public async Task Disconnect_mid_payload_writes_nothing_and_harms_no_one()
    {
        await using var good = await RawNbdClient.OpenAsync(_env.SocketPath, "vol");
        var before = await _env.ReadVolumeAsync("vol", 1024 * 1024, 64 * 1024);
        await using (var quitter = await RawNbdClient.OpenAsync(_env.SocketPath, "vol"))
        {
            var message = new byte[NbdProtocol.RequestHeaderLength + 1000];
            new NbdRequestHeader(NbdCommandFlags.None, NbdCommand.Write, 1, 1024 * 1024, 64 * 1024).Write(message);
            message.AsSpan(NbdProtocol.RequestHeaderLength).Fill(0xAB);
            await quitter.SendRawAsync(message);
            quitter.Abort();
        }
        await AssertStillServesAsync(good, seed: 7);
        Assert.Equal(before, await _env.ReadVolumeAsync("vol", 1024 * 1024, 64 * 1024));
    }

    [Fact]
    public async Task Disconnect_request_ends_the_connection_after_answering_what_came_before()
    {
        await using var client = await RawNbdClient.OpenAsync(_env.SocketPath, "vol");
        var data = NbdTestEnvironment.RandomBytes(4096, seed: 8);
        var handle = client.SendRequest(NbdCommand.Write, 12288, 4096, data);
        client.SendRequest(NbdCommand.Disconnect, 0, 0);
        Assert.Equal(handle, (await client.ReadSimpleReplyAsync()).Handle);
        Assert.True(await client.ServerClosedAsync());
        Assert.Equal(data, await _env.ReadVolumeAsync("vol", 12288, 4096));
    }

    [Fact]
    public async Task Random_garbage_from_many_clients_leaves_the_server_serving()
    {
        await using var good = await RawNbdClient.OpenAsync(_env.SocketPath, "vol");
        var random = new Random(9);
        var attacks = Enumerable.Range(0, 40).Select(async i =>
        {
            // Runs before the first await, so the shared Random is used by one task at a time.
            var garbage = new byte[random.Next(1, 200)];
            random.NextBytes(garbage);
            // Half the attackers first complete the handshake so the garbage hits the request loop.
            await using var attacker = i % 2 == 0
                ? await RawNbdClient.OpenAsync(_env.SocketPath, "vol")
                : await RawNbdClient.ConnectAsync(_env.SocketPath);
            if (i % 4 == 0)
            {
                // A valid header announcing more data than follows, then garbage and a hang-up.
                var header = new byte[NbdProtocol.RequestHeaderLength];
                new NbdRequestHeader(NbdCommandFlags.None, NbdCommand.Write, 1, 0, 4096).Write(header);
                await attacker.SendRawAsync(header);
            }
            await attacker.SendRawAsync(garbage);
            attacker.Abort();
        });
        await Task.WhenAll(attacks);
        await AssertStillServesAsync(good, seed: 10);
        await using var newcomer = await RawNbdClient.OpenAsync(_env.SocketPath, "vol");
        await AssertStillServesAsync(newcomer, seed: 11);
    }

    [Fact]
    public async Task A_device_that_blocks_does_not_hold_up_the_requests_behind_it()
    {
        // The first write blocks its caller outright; after that the device only lets a write
        // finish once the next one has started, which is impossible if they run one by one.
        var device = new BlockingDevice(_env.Engine.GetVolume("vol"));
        var path = Path.Combine(_env.Directory, "blocking.sock");
        await using var server = new NbdServer(new NbdServerOptions
        {
            Endpoints = [NbdEndpoint.Unix(path)],
            Exports = new SingleExportCatalog(device),
        });
        await server.StartAsync();
        await using var client = await RawNbdClient.OpenAsync(path, "vol");
        for (var i = 0; i < 4; i++)
        {
            client.SendRequest(NbdCommand.Write, (ulong)(i * 4096), 4096, new byte[4096]);
        }
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(NbdError.None, (await client.ReadSimpleReplyAsync()).Error);
        }
    }

    /// <summary>Blocks the calling thread: the first write for a while, each later one until the
    /// write after it has started.</summary>
    private sealed class BlockingDevice(IBlockDevice inner) : IBlockDevice
    {
        private int _writes;

        public string Name => inner.Name;
        public long Size => inner.Size;
        public bool IsReadOnly => false;

        public ValueTask ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(offset, buffer, cancellationToken);

        public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, bool fua, CancellationToken cancellationToken = default)
        {
            var index = Interlocked.Increment(ref _writes);
            if (index == 1)
            {
                Thread.Sleep(50);
            }
            else if (index < 4)
            {
                // Wait (blocking, as a badly behaved engine would) for the next write to start.
                Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _writes) > index, TimeSpan.FromSeconds(10)), "writes ran one by one");
            }
            return inner.WriteAsync(offset, data, fua, cancellationToken);
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default) =>
            inner.TrimAsync(offset, length, cancellationToken);

        public ValueTask WriteZeroesAsync(long offset, long length, bool fua, CancellationToken cancellationToken = default) =>
            inner.WriteZeroesAsync(offset, length, fua, cancellationToken);
    }

    private sealed class SingleExportCatalog(IBlockDevice device) : INbdExportCatalog
    {
        public IEnumerable<NbdExportInfo> List() => [new(device.Name, device.Size, device.IsReadOnly)];

        public IBlockDevice? Open(string name) => name == device.Name ? device : null;
    }

    private async Task AssertStillServesAsync(RawNbdClient client, int seed)
    {
        var data = NbdTestEnvironment.RandomBytes(16 * 1024, seed);
        var offset = 2 * NbdTestEnvironment.MiB + seed * 16 * 1024;
        Assert.Equal(NbdError.None, await client.WriteAsync((ulong)offset, data));
        Assert.Equal(data, (await client.ReadAsync((ulong)offset, (uint)data.Length)).Data);
        Assert.Equal(data, await _env.ReadVolumeAsync("vol", offset, data.Length));
    }
}
