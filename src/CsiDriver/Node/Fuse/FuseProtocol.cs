using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CsiDriver.Node.Fuse;

/// <summary>
/// The kernel's FUSE protocol as far as Formation speaks it: the values and message layouts of
/// the kernel's uapi header <c>include/uapi/linux/fuse.h</c> (protocol 7.45 in Linux 6.18), in
/// one place. Messages are the kernel's structs in host byte order, so each is a sequential
/// struct read and written with <see cref="MemoryMarshal"/>; <c>FuseProtocolTests</c> pins
/// their sizes to the header's.
/// </summary>
public static class FuseProtocol
{
    public const uint KernelVersion = 7;

    /// <summary>The newest minor version we speak: 7.40 brought FUSE_NOTIFY_RESEND and
    /// FUSE_HAS_RESEND, which a session that outlives csidriver needs.</summary>
    public const uint ProtocolMinor = 40;

    /// <summary>The oldest minor we accept: 7.28 brought FUSE_MAX_PAGES (1 MiB requests), and
    /// every layout used here is the same from 7.28 on.</summary>
    public const uint MinimumMinor = 28;

    /// <summary>First minor whose kernels can resend requests (Linux 6.9).</summary>
    public const uint ResendMinor = 40;

    public const ulong RootNodeId = 1;

    /// <summary>Mode bits of the root directory as the <c>rootmode=</c> mount option takes
    /// them (octal 040000: S_IFDIR).</summary>
    public const string RootModeOption = "rootmode=40000";
}

/// <summary>enum fuse_opcode (only the values Formation receives or answers).</summary>
public enum FuseOpcode : uint
{
    Lookup = 1,
    Forget = 2,
    GetAttr = 3,
    SetAttr = 4,
    Open = 14,
    Read = 15,
    Write = 16,
    StatFs = 17,
    Release = 18,
    Fsync = 20,
    Flush = 25,
    Init = 26,
    OpenDir = 27,
    ReadDir = 28,
    ReleaseDir = 29,
    FsyncDir = 30,
    Access = 34,
    Interrupt = 36,
    Destroy = 38,
    BatchForget = 42,
    Fallocate = 43,
    SyncFs = 50,
}

/// <summary>enum fuse_notify_code: messages the server sends without a request. A request the
/// kernel sends again after FUSE_NOTIFY_RESEND has bit 63 set in its unique id; the reply
/// carries the id exactly as received.</summary>
public enum FuseNotifyCode
{
    Resend = 7,
}

public static class FuseUnique
{
    /// <summary>FUSE_UNIQUE_RESEND: set in the unique id of a request sent again after FUSE_NOTIFY_RESEND.</summary>
    public const ulong Resent = 1UL << 63;
}

/// <summary>INIT flags; bits 32–63 travel in the flags2 field (FUSE_INIT_EXT).</summary>
[Flags]
public enum FuseInitFlags : ulong
{
    None = 0,
    AsyncRead = 1UL << 0,
    BigWrites = 1UL << 5,
    AsyncDio = 1UL << 15,
    WritebackCache = 1UL << 16,
    MaxPages = 1UL << 22,
    InitExt = 1UL << 30,
    HasResend = 1UL << 39,
}

/// <summary>fuse_open_out.open_flags (FOPEN_*).</summary>
[Flags]
public enum FuseOpenFlags : uint
{
    None = 0,
    DirectIo = 1 << 0,
    ParallelDirectWrites = 1 << 6,
}

/// <summary>fallocate(2) modes the loop driver sends for discard and write-zeroes.</summary>
[Flags]
public enum FallocateMode : uint
{
    None = 0,
    KeepSize = 0x01,
    PunchHole = 0x02,
    ZeroRange = 0x10,
}

/// <summary>struct fuse_in_header: every request starts with it.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct InHeader
{
    public uint Length;
    public FuseOpcode Opcode;
    public ulong Unique;
    public ulong NodeId;
    public uint Uid;
    public uint Gid;
    public uint Pid;
    public ushort TotalExtensionLength;
    public ushort Padding;
}

/// <summary>struct fuse_out_header: every reply and notification starts with it. A
/// notification has unique 0 and its code in <see cref="Error"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct OutHeader
{
    public uint Length;
    public int Error;
    public ulong Unique;
}

/// <summary>struct fuse_init_in. Kernels before 7.36 send only the first four fields.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct InitIn
{
    public uint Major;
    public uint Minor;
    public uint MaxReadahead;
    public uint Flags;
    public uint Flags2;
    private fixed uint _unused[11];
}

/// <summary>struct fuse_init_out.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct InitOut
{
    public uint Major;
    public uint Minor;
    public uint MaxReadahead;
    public uint Flags;
    public ushort MaxBackground;
    public ushort CongestionThreshold;
    public uint MaxWrite;
    public uint TimeGranularity;
    public ushort MaxPages;
    public ushort MapAlignment;
    public uint Flags2;
    public uint MaxStackDepth;
    public ushort RequestTimeout;
    private fixed ushort _unused[11];
}

/// <summary>struct fuse_attr.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseAttributes
{
    public ulong Inode;
    public ulong Size;
    public ulong Blocks;
    public ulong AccessTime;
    public ulong ModifyTime;
    public ulong ChangeTime;
    public uint AccessTimeNanoseconds;
    public uint ModifyTimeNanoseconds;
    public uint ChangeTimeNanoseconds;
    public uint Mode;
    public uint LinkCount;
    public uint Uid;
    public uint Gid;
    public uint RawDevice;
    public uint BlockSize;
    public uint Flags;
}

/// <summary>struct fuse_entry_out: the answer to LOOKUP.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct EntryOut
{
    public ulong NodeId;
    public ulong Generation;
    public ulong EntryValidSeconds;
    public ulong AttributesValidSeconds;
    public uint EntryValidNanoseconds;
    public uint AttributesValidNanoseconds;
    public FuseAttributes Attributes;
}

/// <summary>struct fuse_attr_out: the answer to GETATTR and SETATTR.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct AttributesOut
{
    public ulong ValidSeconds;
    public uint ValidNanoseconds;
    public uint Dummy;
    public FuseAttributes Attributes;
}

/// <summary>struct fuse_setattr_in: only <see cref="Valid"/> (FATTR_* bits) and the size matter here.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct SetAttributesIn
{
    /// <summary>FATTR_SIZE: the request changes the file's size.</summary>
    public const uint ValidSize = 1 << 3;

    public uint Valid;
    public uint Padding;
    public ulong FileHandle;
    public ulong Size;
    private fixed ulong _rest[8];
}

/// <summary>struct fuse_open_in.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct OpenIn
{
    public uint Flags;
    public uint OpenFlags;
}

/// <summary>struct fuse_open_out.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct OpenOut
{
    public ulong FileHandle;
    public FuseOpenFlags OpenFlags;
    public int BackingId;
}

/// <summary>struct fuse_read_in.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ReadIn
{
    public ulong FileHandle;
    public ulong Offset;
    public uint Size;
    public uint ReadFlags;
    public ulong LockOwner;
    public uint Flags;
    public uint Padding;
}

/// <summary>struct fuse_write_in; the data follows it.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct WriteIn
{
    public ulong FileHandle;
    public ulong Offset;
    public uint Size;
    public uint WriteFlags;
    public ulong LockOwner;
    public uint Flags;
    public uint Padding;
}

/// <summary>struct fuse_write_out.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct WriteOut
{
    public uint Size;
    public uint Padding;
}

/// <summary>struct fuse_fallocate_in.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FallocateIn
{
    public ulong FileHandle;
    public ulong Offset;
    public ulong Length;
    public FallocateMode Mode;
    public uint Padding;
}

/// <summary>struct fuse_kstatfs (the whole of fuse_statfs_out).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct StatFsOut
{
    public ulong Blocks;
    public ulong BlocksFree;
    public ulong BlocksAvailable;
    public ulong Files;
    public ulong FilesFree;
    public uint BlockSize;
    public uint NameLength;
    public uint FragmentSize;
    public uint Padding;
    private fixed uint _spare[6];
}

/// <summary>struct fuse_dirent without its name, which follows it padded to 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DirectoryEntry
{
    public ulong Inode;
    public ulong Offset;
    public uint NameLength;
    public uint Type;
}

/// <summary>Reading and writing the structs above in a message buffer.</summary>
public static class FuseWire
{
    public static int SizeOf<T>() where T : unmanaged => Unsafe.SizeOf<T>();

    public static T Read<T>(ReadOnlySpan<byte> source) where T : unmanaged => MemoryMarshal.Read<T>(source);

    /// <summary>Reads <typeparamref name="T"/> from a short argument zero-extended, as the kernel
    /// allows for messages that grew over versions (INIT from kernels before 7.36).</summary>
    public static T ReadPadded<T>(ReadOnlySpan<byte> source) where T : unmanaged
    {
        Span<byte> whole = stackalloc byte[Unsafe.SizeOf<T>()];
        whole.Clear();
        source[..Math.Min(source.Length, whole.Length)].CopyTo(whole);
        return MemoryMarshal.Read<T>(whole);
    }

    public static int Write<T>(Span<byte> destination, in T value) where T : unmanaged
    {
        MemoryMarshal.Write(destination, in value);
        return Unsafe.SizeOf<T>();
    }
}
