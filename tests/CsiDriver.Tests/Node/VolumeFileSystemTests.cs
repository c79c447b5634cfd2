using System.Text;
using CsiDriver.Engine;
using CsiDriver.Native;
using CsiDriver.Node.Fuse;

namespace CsiDriver.Tests.Node;

/// <summary>The one-file file system a FUSE session serves, request by request, over a real
/// engine volume (the kernel side is exercised by the conformance suite).</summary>
public sealed class VolumeFileSystemTests : IDisposable
{
    private const long Size = 4L << 20;

    private readonly string _directory = Directory.CreateTempSubdirectory("formation-fuse-").FullName;
    private readonly StorageEngine _engine;
    private readonly Volume _volume;
    private readonly byte[] _payload = new byte[1 << 20];

    public VolumeFileSystemTests()
    {
        _engine = StorageEngine.Open(_directory);
        _volume = _engine.CreateVolume("vol-fuse", Size);
    }

    public void Dispose()
    {
        _engine.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void Lookup_finds_the_volume_file_with_the_volume_size_and_nothing_else()
    {
        var fs = new VolumeFileSystem(_volume, readOnly: false);

        var found = Handle(fs, FuseOpcode.Lookup, FuseProtocol.RootNodeId, Encoding.ASCII.GetBytes("volume\0"));
        var missing = Handle(fs, FuseOpcode.Lookup, FuseProtocol.RootNodeId, Encoding.ASCII.GetBytes("other\0"));

        var entry = FuseWire.Read<EntryOut>(_payload);
        Assert.Equal((0, VolumeFileSystem.FileNodeId, (ulong)Size), (found.Error, entry.NodeId, entry.Attributes.Size));
        Assert.Equal(Errno.ENOENT, missing.Error);
    }

    [Fact]
    public void Writes_read_back_and_a_read_past_the_end_is_short()
    {
        var fs = new VolumeFileSystem(_volume, readOnly: false);
        var data = Enumerable.Range(0, 8192).Select(i => (byte)i).ToArray();

        var written = Handle(fs, FuseOpcode.Write, VolumeFileSystem.FileNodeId,
            [.. Struct(new WriteIn { Offset = 4096, Size = (uint)data.Length }), .. data]);
        Assert.Equal((0, (uint)data.Length), (written.Error, FuseWire.Read<WriteOut>(_payload).Size));

        var read = Handle(fs, FuseOpcode.Read, VolumeFileSystem.FileNodeId, Struct(new ReadIn { Offset = 4096, Size = 8192 }));
        Assert.Equal(8192, read.PayloadLength);
        Assert.Equal(data, _payload[..8192]);

        var tail = Handle(fs, FuseOpcode.Read, VolumeFileSystem.FileNodeId, Struct(new ReadIn { Offset = Size - 100, Size = 4096 }));
        Assert.Equal(100, tail.PayloadLength);
    }

    [Fact]
    public async Task Punching_a_hole_reads_back_zeroes_and_fsync_waits_for_the_journal()
    {
        var fs = new VolumeFileSystem(_volume, readOnly: false);
        await _volume.WriteAsync(0, Enumerable.Repeat((byte)7, 65536).ToArray(), fua: false);

        var punched = Handle(fs, FuseOpcode.Fallocate, VolumeFileSystem.FileNodeId,
            Struct(new FallocateIn { Offset = 0, Length = 65536, Mode = FallocateMode.PunchHole | FallocateMode.KeepSize }));
        var reserve = Handle(fs, FuseOpcode.Fallocate, VolumeFileSystem.FileNodeId, Struct(new FallocateIn { Offset = 0, Length = 4096 }));
        var fsync = Handle(fs, FuseOpcode.Fsync, VolumeFileSystem.FileNodeId, new byte[16]);
        await fsync.Completion;

        Assert.Equal((0, Errno.EOPNOTSUPP), (punched.Error, reserve.Error));
        var back = new byte[65536];
        await _volume.ReadAsync(0, back);
        Assert.All(back, b => Assert.Equal(0, b));
    }

    [Fact]
    public void A_read_only_session_refuses_to_open_for_writing_and_to_write()
    {
        var fs = new VolumeFileSystem(_volume, readOnly: true);

        var forWriting = Handle(fs, FuseOpcode.Open, VolumeFileSystem.FileNodeId, Struct(new OpenIn { Flags = 2 }));
        var forReading = Handle(fs, FuseOpcode.Open, VolumeFileSystem.FileNodeId, Struct(new OpenIn { Flags = 0 }));
        var write = Handle(fs, FuseOpcode.Write, VolumeFileSystem.FileNodeId, [.. Struct(new WriteIn { Size = 1 }), 1]);

        Assert.Equal((Errno.EROFS, 0, Errno.EROFS), (forWriting.Error, forReading.Error, write.Error));
        Assert.Equal(FuseOpenFlags.DirectIo | FuseOpenFlags.ParallelDirectWrites, FuseWire.Read<OpenOut>(_payload).OpenFlags);
    }

    [Fact]
    public void The_file_size_follows_the_volume_as_it_grows()
    {
        var fs = new VolumeFileSystem(_volume, readOnly: false);
        _engine.ExpandVolume(_volume.Id, 2 * Size);

        Handle(fs, FuseOpcode.GetAttr, VolumeFileSystem.FileNodeId, new byte[16]);

        var attributes = FuseWire.Read<AttributesOut>(_payload);
        Assert.Equal(((ulong)(2 * Size), 0ul), (attributes.Attributes.Size, attributes.ValidSeconds));
    }

    [Fact]
    public void The_root_lists_dot_dot_dot_and_the_volume_and_forget_gets_no_reply()
    {
        var fs = new VolumeFileSystem(_volume, readOnly: false);

        var listing = Handle(fs, FuseOpcode.ReadDir, FuseProtocol.RootNodeId, Struct(new ReadIn { Size = 4096 }));
        var forget = Handle(fs, FuseOpcode.Forget, VolumeFileSystem.FileNodeId, new byte[8]);

        var names = new List<string>();
        for (var at = 0; at < listing.PayloadLength;)
        {
            var entry = FuseWire.Read<DirectoryEntry>(_payload.AsSpan(at));
            names.Add(Encoding.ASCII.GetString(_payload, at + FuseWire.SizeOf<DirectoryEntry>(), (int)entry.NameLength));
            at += (FuseWire.SizeOf<DirectoryEntry>() + (int)entry.NameLength + 7) & ~7;
        }
        Assert.Equal([".", "..", "volume"], names);
        Assert.False(forget.Replies);
    }

    private FuseOutcome Handle(VolumeFileSystem fs, FuseOpcode opcode, ulong node, byte[] argument) =>
        fs.Handle(new InHeader { Opcode = opcode, NodeId = node, Unique = 2 }, argument, _payload);

    private static byte[] Struct<T>(T value) where T : unmanaged
    {
        var bytes = new byte[FuseWire.SizeOf<T>()];
        FuseWire.Write(bytes, value);
        return bytes;
    }
}
