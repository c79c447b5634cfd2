namespace CsiDriver.Engine.Nbd;

// Every number the NBD wire protocol uses, in one place (facts from the NBD protocol document,
// NetworkBlockDevice/nbd doc/proto.md). All integers travel big-endian. NBD is an external
// protocol: its "version" is what the fixed newstyle handshake negotiates (handshake flags,
// options), so there is no version field or checksum of ours on the wire.

/// <summary>Magic numbers and fixed sizes of NBD messages.</summary>
public static class NbdProtocol
{
    /// <summary>"NBDMAGIC": first 8 bytes the server sends.</summary>
    public const ulong InitMagic = 0x4e42444d41474943;

    /// <summary>"IHAVEOPT": second server magic, and the magic of every client option.</summary>
    public const ulong OptionMagic = 0x49484156454F5054;

    /// <summary>Magic of each server reply to an option (fixed newstyle).</summary>
    public const ulong OptionReplyMagic = 0x3e889045565a9;

    public const uint RequestMagic = 0x25609513;
    public const uint SimpleReplyMagic = 0x67446698;
    public const uint StructuredReplyMagic = 0x668e33ef;

    /// <summary>NBDMAGIC (8) + IHAVEOPT (8) + handshake flags (2).</summary>
    public const int GreetingLength = 18;

    /// <summary>Magic (8) + option (4) + data length (4).</summary>
    public const int OptionHeaderLength = 16;

    /// <summary>Magic (8) + option (4) + reply type (4) + data length (4).</summary>
    public const int OptionReplyHeaderLength = 20;

    /// <summary>Zero padding after the NBD_OPT_EXPORT_NAME reply unless NO_ZEROES was negotiated.</summary>
    public const int ExportNameReplyPadding = 124;

    /// <summary>Magic (4) + flags (2) + type (2) + handle (8) + offset (8) + length (4).</summary>
    public const int RequestHeaderLength = 28;

    /// <summary>Magic (4) + error (4) + handle (8).</summary>
    public const int SimpleReplyHeaderLength = 16;

    /// <summary>Magic (4) + flags (2) + type (2) + handle (8) + payload length (4).</summary>
    public const int StructuredReplyHeaderLength = 20;

    /// <summary>Strings (export names, messages) must not be longer than this.</summary>
    public const int MaxStringLength = 4096;

    /// <summary>Largest minimum block size the protocol allows (64 KiB).</summary>
    public const int MaxMinimumBlockSize = 64 * 1024;
}

[Flags]
public enum NbdHandshakeFlags : ushort
{
    None = 0,
    FixedNewstyle = 1 << 0,
    NoZeroes = 1 << 1,
}

[Flags]
public enum NbdClientFlags : uint
{
    None = 0,
    FixedNewstyle = 1 << 0,
    NoZeroes = 1 << 1,
}

/// <summary>Options a client sends during the handshake.</summary>
public enum NbdOption : uint
{
    ExportName = 1,
    Abort = 2,
    List = 3,
    StartTls = 5,
    Info = 6,
    Go = 7,
    StructuredReply = 8,
    ListMetaContext = 10,
    SetMetaContext = 11,
}

/// <summary>Server reply types to options; errors have bit 31 set.</summary>
public enum NbdOptionReply : uint
{
    Ack = 1,
    Server = 2,
    Info = 3,
    ErrorUnsupported = 0x8000_0001,
    ErrorPolicy = 0x8000_0002,
    ErrorInvalid = 0x8000_0003,
    ErrorPlatform = 0x8000_0004,
    ErrorTlsRequired = 0x8000_0005,
    ErrorUnknown = 0x8000_0006,
    ErrorShutdown = 0x8000_0007,
    ErrorBlockSizeRequired = 0x8000_0008,
    ErrorTooBig = 0x8000_0009,
}

/// <summary>Information types inside NBD_REP_INFO replies to NBD_OPT_INFO / NBD_OPT_GO.</summary>
public enum NbdInfo : ushort
{
    /// <summary>Size (8) + transmission flags (2).</summary>
    Export = 0,
    Name = 1,
    Description = 2,

    /// <summary>Minimum (4) + preferred (4) + maximum payload (4).</summary>
    BlockSize = 3,
}

[Flags]
public enum NbdTransmissionFlags : ushort
{
    None = 0,
    HasFlags = 1 << 0,
    ReadOnly = 1 << 1,
    SendFlush = 1 << 2,
    SendFua = 1 << 3,
    Rotational = 1 << 4,
    SendTrim = 1 << 5,
    SendWriteZeroes = 1 << 6,
    SendDoNotFragment = 1 << 7,
    CanMultiConnection = 1 << 8,
    SendResize = 1 << 9,
    SendCache = 1 << 10,
    SendFastZero = 1 << 11,
}

/// <summary>Request types of the transmission phase.</summary>
public enum NbdCommand : ushort
{
    Read = 0,
    Write = 1,
    Disconnect = 2,
    Flush = 3,
    Trim = 4,
    Cache = 5,
    WriteZeroes = 6,
    BlockStatus = 7,
}

[Flags]
public enum NbdCommandFlags : ushort
{
    None = 0,
    Fua = 1 << 0,
    NoHole = 1 << 1,
    DoNotFragment = 1 << 2,
    RequestOne = 1 << 3,
    FastZero = 1 << 4,
}

/// <summary>Structured reply chunk types; error chunks have bit 15 set.</summary>
public enum NbdReplyChunk : ushort
{
    None = 0,
    OffsetData = 1,
    OffsetHole = 2,
    BlockStatus = 5,
    Error = 0x8001,
    ErrorOffset = 0x8002,
}

/// <summary>Flag of a structured reply chunk: this is the last chunk of the reply.</summary>
[Flags]
public enum NbdReplyChunkFlags : ushort
{
    None = 0,
    Done = 1 << 0,
}

/// <summary>Error values of the transmission phase (the protocol fixes these numbers).</summary>
public enum NbdError : uint
{
    None = 0,
    NotPermitted = 1,
    IoError = 5,
    OutOfMemory = 12,
    InvalidArgument = 22,
    NoSpace = 28,
    Overflow = 75,
    NotSupported = 95,
    Shutdown = 108,
}
