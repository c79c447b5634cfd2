using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using CsiDriver.Engine.Nbd;

namespace CsiDriver.Engine.Tests.Nbd;

/// <summary>
/// The server against real NBD clients from Debian packages (libnbd-bin, qemu-utils, fio) and
/// through the kernel (nbdfuse + loop device + ext4). Every result is also checked through the
/// engine, not only through the client that wrote it.
/// </summary>
public sealed class NbdServerTests : IAsyncLifetime
{
    private const long MiB = NbdTestEnvironment.MiB;
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(60);
    private NbdTestEnvironment _env = null!;

    public async Task InitializeAsync() =>
        _env = await NbdTestEnvironment.StartAsync(
            [("disk", 64 * MiB), ("small", 8 * MiB), ("frozen", 4 * MiB)], new HashSet<string> { "frozen" });

    public async Task DisposeAsync() => await _env.DisposeAsync();

    [Fact]
    public async Task Nbdinfo_lists_and_describes_exports()
    {
        using var list = JsonDocument.Parse(await ExternalTool.RunAsync("nbdinfo",
            ["--list", "--json", $"nbd+unix://?socket={_env.SocketPath}"], ToolTimeout));
        var exports = list.RootElement.GetProperty("exports").EnumerateArray()
            .ToDictionary(e => e.GetProperty("export-name").GetString()!);
        Assert.Equal(["disk", "frozen", "small"], exports.Keys.Order());
        Assert.Equal(64 * MiB, exports["disk"].GetProperty("export-size").GetInt64());
        Assert.Equal(8 * MiB, exports["small"].GetProperty("export-size").GetInt64());
        Assert.True(exports["frozen"].GetProperty("is_read_only").GetBoolean());
        Assert.False(exports["disk"].GetProperty("is_read_only").GetBoolean());

        using var one = JsonDocument.Parse(await ExternalTool.RunAsync("nbdinfo", ["--json", _env.Uri("disk")], ToolTimeout));
        var disk = one.RootElement.GetProperty("exports")[0];
        Assert.True(one.RootElement.GetProperty("structured").GetBoolean());
        Assert.Equal(64 * MiB, disk.GetProperty("export-size").GetInt64());
        foreach (var capability in new[] { "can_flush", "can_fua", "can_trim", "can_zero", "can_multi_conn" })
        {
            Assert.True(disk.GetProperty(capability).GetBoolean(), capability);
        }
        Assert.Equal(1, disk.GetProperty("block_size_minimum").GetInt32());
        Assert.Equal(4096, disk.GetProperty("block_size_preferred").GetInt32());
        Assert.Equal(32 * 1024 * 1024, disk.GetProperty("block_size_maximum").GetInt32());

        var missing = await ExternalTool.TryRunAsync("nbdinfo", [_env.Uri("missing")], ToolTimeout);
        Assert.NotEqual(0, missing.ExitCode);
    }

    [Fact]
    public async Task Nbdcopy_writes_and_reads_back_byte_for_byte_over_several_connections()
    {
        var source = Path.Combine(_env.Directory, "source.bin");
        var copy = Path.Combine(_env.Directory, "copy.bin");
        var data = NbdTestEnvironment.RandomBytes((int)(8 * MiB), seed: 1);
        await File.WriteAllBytesAsync(source, data);

        await ExternalTool.RunAsync("nbdcopy", ["--connections=4", "--flush", source, _env.Uri("small")], ToolTimeout);
        Assert.Equal(data, await _env.ReadVolumeAsync("small", 0, data.Length));

        await ExternalTool.RunAsync("nbdcopy", ["--connections=4", _env.Uri("small"), copy], ToolTimeout);
        Assert.Equal(data, await File.ReadAllBytesAsync(copy));
    }

    [Fact]
    public async Task Qemu_img_converts_to_and_from_the_export()
    {
        // Old contents everywhere, so the zero runs of the image must really be written as zeroes.
        await _env.Engine.GetVolume("small").WriteAsync(0, NbdTestEnvironment.RandomBytes((int)(8 * MiB), seed: 2), fua: false);
        var image = NbdTestEnvironment.RandomBytes((int)(8 * MiB), seed: 3);
        image.AsSpan((int)MiB, (int)(2 * MiB)).Clear();
        image.AsSpan((int)(5 * MiB) + 512, 100_000).Clear();
        var source = Path.Combine(_env.Directory, "source.img");
        var copy = Path.Combine(_env.Directory, "copy.img");
        await File.WriteAllBytesAsync(source, image);

        await ExternalTool.RunAsync("qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", source, _env.Uri("small")], ToolTimeout);
        Assert.Equal(image, await _env.ReadVolumeAsync("small", 0, image.Length));

        await ExternalTool.RunAsync("qemu-img", ["convert", "-f", "raw", "-O", "raw", _env.Uri("small"), copy], ToolTimeout);
        Assert.Equal(image, await File.ReadAllBytesAsync(copy));
    }

    [Fact]
    public async Task Fio_verify_job_runs_clean()
    {
        var output = await ExternalTool.RunAsync("fio",
        [
            "--name=verify", "--ioengine=nbd", $"--uri={_env.Uri("disk")}", "--rw=randwrite", "--bs=4k",
            "--iodepth=16", "--size=16m", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1",
            "--output-format=json",
        ], ToolTimeout);
        using var report = JsonDocument.Parse(output[output.IndexOf('{')..]);
        var job = report.RootElement.GetProperty("jobs")[0];
        Assert.Equal(0, job.GetProperty("error").GetInt32());
        Assert.Equal(16 * MiB, job.GetProperty("write").GetProperty("io_bytes").GetInt64());
        Assert.Equal(16 * MiB, job.GetProperty("read").GetProperty("io_bytes").GetInt64());

        // Every 4 KiB block fio wrote starts with its verify header magic (0xacca, little-endian).
        var written = await _env.ReadVolumeAsync("disk", 0, (int)(16 * MiB));
        for (var block = 0; block < written.Length; block += 4096)
        {
            Assert.Equal(0xacca, BinaryPrimitives.ReadUInt16LittleEndian(written.AsSpan(block)));
        }
    }

    [Fact]
    public async Task Loopback_tcp_endpoint_serves_the_same_exports()
    {
        await using var server = new NbdServer(new NbdServerOptions
        {
            Endpoints = [NbdEndpoint.Loopback(new IPEndPoint(IPAddress.Loopback, 0))],
            Exports = new VolumeExportCatalog(_env.Engine),
        });
        await server.StartAsync();
        var port = server.BoundEndpoints[0].Tcp!.Port;
        var size = await ExternalTool.RunAsync("nbdinfo", ["--size", $"nbd://127.0.0.1:{port}/small"], ToolTimeout);
        Assert.Equal(8 * MiB, long.Parse(size.Trim()));
    }

    [Fact]
    public async Task Many_connections_write_at_once_and_each_lands_where_it_should()
    {
        var blocks = Enumerable.Range(0, 16).Select(i => NbdTestEnvironment.RandomBytes((int)MiB, seed: 10 + i)).ToArray();
        await Task.WhenAll(blocks.Select(async (data, i) =>
        {
            await using var client = await RawNbdClient.OpenAsync(_env.SocketPath, "disk");
            for (var chunk = 0; chunk < data.Length; chunk += 64 * 1024)
            {
                client.SendRequest(NbdCommand.Write, (ulong)(i * MiB + chunk), 64 * 1024, data.AsSpan(chunk, 64 * 1024));
            }
            for (var chunk = 0; chunk < data.Length; chunk += 64 * 1024)
            {
                Assert.Equal(NbdError.None, (await client.ReadSimpleReplyAsync()).Error);
            }
        }));
        for (var i = 0; i < blocks.Length; i++)
        {
            Assert.Equal(blocks[i], await _env.ReadVolumeAsync("disk", i * MiB, (int)MiB));
        }
    }

    [Fact]
    public async Task Stop_removes_the_socket_and_a_new_server_replaces_a_stale_one()
    {
        var path = Path.Combine(_env.Directory, "second.sock");
        var options = new NbdServerOptions { Endpoints = [NbdEndpoint.Unix(path)], Exports = new VolumeExportCatalog(_env.Engine) };
        var first = new NbdServer(options);
        await first.StartAsync();
        Assert.True(File.Exists(path));
        await Assert.ThrowsAsync<IOException>(() => new NbdServer(options).StartAsync());
        await using (var stillServed = await RawNbdClient.OpenAsync(path, "small"))
        {
            Assert.Equal(NbdError.None, (await stillServed.ReadAsync(0, 4096)).Error);
        }
        await first.StopAsync();
        Assert.False(File.Exists(path));

        // A socket file nobody listens on, as a crashed process leaves behind. .NET deletes the
        // file of a socket it disposes, so the file is moved aside meanwhile and put back.
        var aside = path + ".aside";
        using (var orphan = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            orphan.Bind(new UnixDomainSocketEndPoint(path));
            File.Move(path, aside);
        }
        File.Move(aside, path);
        Assert.True(File.Exists(path));
        await using var second = new NbdServer(options);
        await second.StartAsync();
        await using var client = await RawNbdClient.OpenAsync(path, "small");
        Assert.Equal(8 * MiB, client.ExportSize);
    }
    [Fact]
    public async Task Stop_closes_connections_in_any_phase_and_removes_the_socket()
    {
        await using var transmitting = await RawNbdClient.OpenAsync(_env.SocketPath, "disk");
        await using var haggling = await RawNbdClient.ConnectAsync(_env.SocketPath);
        await haggling.ReadGreetingAsync();
        var data = NbdTestEnvironment.RandomBytes((int)MiB, seed: 30);
        var handles = Enumerable.Range(0, 8)
            .Select(i => transmitting.SendRequest(NbdCommand.Write, (ulong)(i * MiB), (uint)MiB, data))
            .ToHashSet();
        for (var i = 0; i < 8; i++)
        {
            Assert.True(handles.Remove((await transmitting.ReadSimpleReplyAsync()).Handle));
        }
        Assert.Equal(2, _env.Server.ConnectionCount);

        await _env.Server.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(await transmitting.ServerClosedAsync());
        Assert.True(await haggling.ServerClosedAsync());
        Assert.Equal(0, _env.Server.ConnectionCount);
        Assert.False(File.Exists(_env.SocketPath));
        Assert.Equal(data, await _env.ReadVolumeAsync("disk", 7 * MiB, (int)MiB));
    }

    [Fact]
    public async Task Connection_limit_and_handshake_deadline_shed_idle_clients()
    {
        var path = Path.Combine(_env.Directory, "limited.sock");
        await using var server = new NbdServer(new NbdServerOptions
        {
            Endpoints = [NbdEndpoint.Unix(path)],
            Exports = new VolumeExportCatalog(_env.Engine),
            MaxConnections = 1,
            HandshakeTimeout = TimeSpan.FromMilliseconds(500),
        });
        await server.StartAsync();

        await using (var silent = await RawNbdClient.ConnectAsync(path))
        {
            await silent.ReadGreetingAsync();
            await using (var extra = await RawNbdClient.ConnectAsync(path))
            {
                Assert.True(await extra.ServerClosedAsync());
            }
            // Says nothing after the greeting: dropped once the handshake deadline passes.
            Assert.True(await silent.ServerClosedAsync());
        }
        await WaitForAsync(() => server.ConnectionCount == 0, "the silent connection to be forgotten");
        await using var next = await RawNbdClient.OpenAsync(path, "small");
        Assert.Equal(NbdError.None, (await next.ReadAsync(0, 4096)).Error);
    }

    [Fact]
    public async Task Idle_clients_are_shed_so_they_cannot_hold_every_place()
    {
        var path = Path.Combine(_env.Directory, "open.sock");
        var idle = TimeSpan.FromSeconds(1);
        await using var server = new NbdServer(new NbdServerOptions
        {
            Endpoints = [NbdEndpoint.Unix(path)],
            Exports = new VolumeExportCatalog(_env.Engine),
            MaxConnections = 2,
            IdleTimeout = idle,
        });
        await server.StartAsync();

        // Two clients past negotiation fill the places and a third is turned away...
        await using var first = await RawNbdClient.OpenAsync(path, "small");
        await using var second = await RawNbdClient.OpenAsync(path, "small");
        await using (var third = await RawNbdClient.ConnectAsync(path))
        {
            Assert.True(await third.ServerClosedAsync());
        }

        // ...until, idle past the limit, they are closed and their places free again.
        Assert.True(await first.ServerClosedAsync());
        Assert.True(await second.ServerClosedAsync());
        await WaitForAsync(() => server.ConnectionCount == 0, "the idle connections to be forgotten");
        await using var next = await RawNbdClient.OpenAsync(path, "small");
        Assert.Equal(NbdError.None, (await next.ReadAsync(0, 4096)).Error);
    }

    [Fact]
    public async Task Kernel_path_ext4_on_nbdfuse_and_a_loop_device_survives_a_remount()
    {
        Assert.True(File.Exists("/dev/fuse"), "/dev/fuse is missing: the kernel path needs FUSE");
        var fuseDir = Directory.CreateDirectory(Path.Combine(_env.Directory, "fuse")).FullName;
        var mountDir = Directory.CreateDirectory(Path.Combine(_env.Directory, "mnt")).FullName;
        var exportFile = Path.Combine(fuseDir, "nbd");
        var files = Enumerable.Range(0, 4).ToDictionary(i => $"file{i}.bin", i => NbdTestEnvironment.RandomBytes(300_000 * (i + 1), seed: 40 + i));
        using var nbdfuse = ExternalTool.Start("nbdfuse", [fuseDir, _env.Uri("disk")]);
        string? loop = null;
        var mounted = false;
        try
        {
            await WaitForAsync(() => File.Exists(exportFile) || nbdfuse.HasExited, "nbdfuse to expose the export");
            if (nbdfuse.HasExited)
            {
                throw new Xunit.Sdk.XunitException($"nbdfuse exited with {nbdfuse.ExitCode}: {await nbdfuse.StandardError.ReadToEndAsync()}");
            }
            loop = (await ExternalTool.RunAsync("losetup", ["--find", "--show", exportFile], ToolTimeout)).Trim();
            await ExternalTool.RunAsync("mkfs.ext4", ["-q", "-F", loop], ToolTimeout);

            await ExternalTool.RunAsync("mount", [loop, mountDir], ToolTimeout);
            mounted = true;
            foreach (var (name, data) in files)
            {
                await File.WriteAllBytesAsync(Path.Combine(mountDir, name), data);
            }
            await ExternalTool.RunAsync("umount", [mountDir], ToolTimeout);
            mounted = false;

            await ExternalTool.RunAsync("mount", [loop, mountDir], ToolTimeout);
            mounted = true;
            foreach (var (name, data) in files)
            {
                Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(mountDir, name)));
            }
        }
        finally
        {
            if (mounted)
            {
                await ExternalTool.TryRunAsync("umount", [mountDir], ToolTimeout);
            }
            if (loop is not null)
            {
                await ExternalTool.TryRunAsync("losetup", ["--detach", loop], ToolTimeout);
            }
            await ExternalTool.TryRunAsync("fusermount3", ["-u", fuseDir], ToolTimeout);
            if (!nbdfuse.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                nbdfuse.Kill(entireProcessTree: true);
            }
        }

        // The engine holds the file system: the ext4 superblock (at 1024) carries magic 0xEF53,
        // and each file's first block sits on a file system block boundary (1 KiB for a volume this small).
        var volume = await _env.ReadVolumeAsync("disk", 0, (int)(64 * MiB));
        Assert.Equal(0xEF53, BinaryPrimitives.ReadUInt16LittleEndian(volume.AsSpan(1024 + 0x38)));
        foreach (var (name, data) in files)
        {
            var found = false;
            for (var block = 0; block < volume.Length && !found; block += 1024)
            {
                found = volume.AsSpan(block, 4096).SequenceEqual(data.AsSpan(0, 4096));
            }
            Assert.True(found, $"the first block of {name} is not in the volume");
        }
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"timed out waiting for {what}");
            }
            await Task.Delay(50);
        }
    }
}
