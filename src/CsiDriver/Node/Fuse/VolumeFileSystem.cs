using System.Text;
using CsiDriver.Engine;
using CsiDriver.Native;

namespace CsiDriver.Node.Fuse;

/// <summary>What handling one request produced: a reply now (an error, or a payload of
/// <see cref="PayloadLength"/> bytes), no reply at all, or a reply once <see cref="Completion"/> ends.</summary>
public readonly struct FuseOutcome
{
    private FuseOutcome(bool replies, int error, int payloadLength, ValueTask completion)
    {
        Replies = replies;
        Error = error;
        PayloadLength = payloadLength;
        Completion = completion;
    }

    public static FuseOutcome NoReply => new(false, 0, 0, ValueTask.CompletedTask);

    public bool Replies { get; }

    public int Error { get; }

    public int PayloadLength { get; }

    public ValueTask Completion { get; }

    public static FuseOutcome Payload(int length) => new(true, 0, length, ValueTask.CompletedTask);

    public static FuseOutcome Failed(int errno) => new(true, errno, 0, ValueTask.CompletedTask);

    /// <summary>An empty reply once <paramref name="completion"/> ends (its failure as an errno).</summary>
    public static FuseOutcome When(ValueTask completion) => new(true, 0, 0, completion);
}

/// <summary>
/// The file system one session serves: a root directory holding one regular file,
/// <see cref="FileName"/>, whose bytes are the volume's. Node ids and file handles are fixed
/// (root 1, the file 2, handle 0), so a csidriver that takes a session over from an earlier run
/// understands every id the kernel already holds. Stateless apart from the device, and safe for
/// the session's concurrent readers.
/// </summary>
public sealed class VolumeFileSystem(IBlockDevice device, bool readOnly)
{
    public const string FileName = "volume";

    public const ulong FileNodeId = 2;

    private const uint DirectoryMode = 0x4000 | 0x1C0; // S_IFDIR | 0700
    private const uint FileModeReadWrite = 0x8000 | 0x180; // S_IFREG | 0600
    private const uint FileModeReadOnly = 0x8000 | 0x100; // S_IFREG | 0400
    private const int AccessModeMask = 3; // O_ACCMODE: O_RDONLY is 0
    private const int Eisdir = 21;
    private const int Enotdir = 20;
    private const uint DirectoryType = 4; // DT_DIR
    private const uint RegularType = 8; // DT_REG

    /// <summary>The names never change, so the kernel may keep them for long.</summary>
    private const ulong EntryValidSeconds = 3600;

    private static readonly byte[] FileNameBytes = Encoding.ASCII.GetBytes(FileName);

    /// <summary>Handles one request (INIT is the session's). <paramref name="payload"/> is where a
    /// reply's body goes, after the reply header.</summary>
    public FuseOutcome Handle(in InHeader header, ReadOnlyMemory<byte> argumentMemory, Memory<byte> payloadMemory)
    {
        var argument = argumentMemory.Span;
        var payload = payloadMemory.Span;
        switch (header.Opcode)
        {
            case FuseOpcode.Lookup:
                return Lookup(header.NodeId, argument, payload);
            case FuseOpcode.GetAttr:
                return Attributes(header.NodeId, payload);
            case FuseOpcode.SetAttr:
                return SetAttributes(header.NodeId, FuseWire.Read<SetAttributesIn>(argument), payload);
            case FuseOpcode.Open:
                return Open(header.NodeId, FuseWire.Read<OpenIn>(argument), payload);
            case FuseOpcode.OpenDir:
                return header.NodeId == FuseProtocol.RootNodeId
                    ? FuseOutcome.Payload(FuseWire.Write(payload, new OpenOut()))
                    : FuseOutcome.Failed(Enotdir);
            case FuseOpcode.ReadDir:
                return ReadDirectory(FuseWire.Read<ReadIn>(argument), payload);
            case FuseOpcode.Read:
                return Read(FuseWire.Read<ReadIn>(argument), payloadMemory);
            case FuseOpcode.Write:
                return Write(FuseWire.Read<WriteIn>(argument), argumentMemory[FuseWire.SizeOf<WriteIn>()..], payload);
            case FuseOpcode.Fallocate:
                return Fallocate(FuseWire.Read<FallocateIn>(argument));
            case FuseOpcode.Flush or FuseOpcode.Fsync or FuseOpcode.SyncFs:
                // close(2), fsync(2) and syncfs(2) all answer only once every write acknowledged
                // before them is durable in the engine (group commit).
                return FuseOutcome.When(device.FlushAsync());
            case FuseOpcode.StatFs:
                return FuseOutcome.Payload(FuseWire.Write(payload, new StatFsOut
                {
                    Blocks = (ulong)device.Size / 4096, BlockSize = 4096, FragmentSize = 4096, NameLength = 255, Files = 2,
                }));
            case FuseOpcode.Release or FuseOpcode.ReleaseDir or FuseOpcode.FsyncDir or FuseOpcode.Access or FuseOpcode.Destroy:
                return FuseOutcome.Payload(0);
            case FuseOpcode.Forget or FuseOpcode.BatchForget or FuseOpcode.Interrupt:
                // No reply: ids are fixed, so there is nothing to forget; an interrupted request
                // is short and simply completes.
                return FuseOutcome.NoReply;
            default:
                // Extended attributes, locks, ioctl, lseek…: ENOSYS tells the kernel not to ask again.
                return FuseOutcome.Failed(Errno.ENOSYS);
        }
    }

    private FuseOutcome Lookup(ulong parent, ReadOnlySpan<byte> name, Span<byte> payload)
    {
        var terminated = name.IndexOf((byte)0);
        if (parent != FuseProtocol.RootNodeId || !name[..(terminated < 0 ? name.Length : terminated)].SequenceEqual(FileNameBytes))
        {
            return FuseOutcome.Failed(Errno.ENOENT);
        }
        return FuseOutcome.Payload(FuseWire.Write(payload, new EntryOut
        {
            NodeId = FileNodeId,
            EntryValidSeconds = EntryValidSeconds,
            Attributes = FileAttributes(),
        }));
    }

    /// <summary>The file's attributes are never cached (valid 0 s): its size changes when the
    /// volume grows, and LOOP_SET_CAPACITY must then see the new size at once.</summary>
    private FuseOutcome Attributes(ulong node, Span<byte> payload) => node switch
    {
        FuseProtocol.RootNodeId => FuseOutcome.Payload(FuseWire.Write(payload, new AttributesOut
        {
            ValidSeconds = EntryValidSeconds,
            Attributes = new FuseAttributes { Inode = FuseProtocol.RootNodeId, Mode = DirectoryMode, LinkCount = 2, BlockSize = 4096 },
        })),
        FileNodeId => FuseOutcome.Payload(FuseWire.Write(payload, new AttributesOut { Attributes = FileAttributes() })),
        _ => FuseOutcome.Failed(Errno.ENOENT),
    };

    /// <summary>Times and owners stay as they are; the size is the volume's and only the
    /// controller changes it.</summary>
    private FuseOutcome SetAttributes(ulong node, in SetAttributesIn request, Span<byte> payload) =>
        (request.Valid & SetAttributesIn.ValidSize) != 0 && request.Size != (ulong)device.Size
            ? FuseOutcome.Failed(Errno.EPERM)
            : Attributes(node, payload);

    /// <summary>Every open is FOPEN_DIRECT_IO: no FUSE page cache holds the volume's bytes, so a
    /// read sees what the engine has and a completed write is in the engine's journal (see
    /// <see cref="FuseInit"/>). Direct writes may run in parallel: the loop device never sends
    /// two that overlap.</summary>
    private FuseOutcome Open(ulong node, in OpenIn request, Span<byte> payload)
    {
        if (node == FuseProtocol.RootNodeId)
        {
            return FuseOutcome.Failed(Eisdir);
        }
        if (readOnly && (request.Flags & AccessModeMask) != 0)
        {
            return FuseOutcome.Failed(Errno.EROFS);
        }
        return FuseOutcome.Payload(FuseWire.Write(payload, new OpenOut
        {
            OpenFlags = FuseOpenFlags.DirectIo | FuseOpenFlags.ParallelDirectWrites,
        }));
    }

    private FuseOutcome Read(in ReadIn request, Memory<byte> payload)
    {
        var size = device.Size;
        if ((long)request.Offset >= size)
        {
            return FuseOutcome.Payload(0);
        }
        var length = (int)Math.Min(request.Size, size - (long)request.Offset);
        if (length > payload.Length)
        {
            return FuseOutcome.Failed(Errno.EINVAL);
        }
        Complete(device.ReadAsync((long)request.Offset, payload[..length]));
        return FuseOutcome.Payload(length);
    }

    private FuseOutcome Write(in WriteIn request, ReadOnlyMemory<byte> data, Span<byte> payload)
    {
        if (readOnly)
        {
            return FuseOutcome.Failed(Errno.EROFS);
        }
        if (data.Length < request.Size)
        {
            return FuseOutcome.Failed(Errno.EINVAL);
        }
        Complete(device.WriteAsync((long)request.Offset, data[..(int)request.Size], fua: false));
        return FuseOutcome.Payload(FuseWire.Write(payload, new WriteOut { Size = request.Size }));
    }

    /// <summary>What the loop device sends for discard (punch hole) and write-zeroes (zero range).</summary>
    private FuseOutcome Fallocate(in FallocateIn request)
    {
        if (readOnly)
        {
            return FuseOutcome.Failed(Errno.EROFS);
        }
        var mode = request.Mode & ~FallocateMode.KeepSize;
        var (offset, length) = ((long)request.Offset, (long)request.Length);
        if (mode == FallocateMode.PunchHole && request.Mode.HasFlag(FallocateMode.KeepSize))
        {
            Complete(device.TrimAsync(offset, length));
            return FuseOutcome.Payload(0);
        }
        if (mode == FallocateMode.ZeroRange)
        {
            Complete(device.WriteZeroesAsync(offset, length, fua: false));
            return FuseOutcome.Payload(0);
        }
        // Reserving space (mode 0) cannot be promised by a thin volume; other modes change the size.
        return FuseOutcome.Failed(Errno.EOPNOTSUPP);
    }

    private static FuseOutcome ReadDirectory(in ReadIn request, Span<byte> payload)
    {
        ReadOnlySpan<(string Name, ulong Inode, uint Type)> entries =
        [
            (".", FuseProtocol.RootNodeId, DirectoryType),
            ("..", FuseProtocol.RootNodeId, DirectoryType),
            (FileName, FileNodeId, RegularType),
        ];
        var limit = (int)Math.Min(request.Size, (uint)payload.Length);
        var used = 0;
        for (var i = (int)request.Offset; i < entries.Length; i++)
        {
            var name = Encoding.ASCII.GetBytes(entries[i].Name);
            var record = (FuseWire.SizeOf<DirectoryEntry>() + name.Length + 7) & ~7;
            if (used + record > limit)
            {
                break;
            }
            var slot = payload.Slice(used, record);
            slot.Clear();
            var header = FuseWire.Write(slot, new DirectoryEntry
            {
                Inode = entries[i].Inode, Offset = (ulong)(i + 1), NameLength = (uint)name.Length, Type = entries[i].Type,
            });
            name.CopyTo(slot[header..]);
            used += record;
        }
        return FuseOutcome.Payload(used);
    }

    private FuseAttributes FileAttributes() => new()
    {
        Inode = FileNodeId,
        Size = (ulong)device.Size,
        Blocks = (ulong)device.Size / 512,
        Mode = readOnly ? FileModeReadOnly : FileModeReadWrite,
        LinkCount = 1,
        BlockSize = 4096,
    };

    /// <summary>Reads and writes of the engine complete before they return today; should one not,
    /// the reader waits for it here, since its buffer is reused for the next request.</summary>
    private static void Complete(ValueTask operation)
    {
        if (operation.IsCompletedSuccessfully)
        {
            return;
        }
        operation.AsTask().GetAwaiter().GetResult();
    }
}
