namespace CsiDriver.Node.Fuse;

/// <summary>
/// What the kernel and csidriver agreed at INIT. A session taken back from the session holder
/// gets no second INIT, so these terms travel with its descriptor (<see cref="SessionTicket"/>).
/// </summary>
/// <param name="Minor">The protocol minor version in use.</param>
/// <param name="KernelResends">The kernel offered FUSE_HAS_RESEND: requests a dead csidriver
/// had read but not answered can be replayed, so the session may outlive the process.</param>
public sealed record FuseTerms(uint Minor, bool KernelResends);

/// <summary>The INIT exchange: which of the kernel's offers Formation takes, and why.</summary>
public static class FuseInit
{
    /// <summary>Largest READ or WRITE the kernel sends: 256 pages, so a 1 MiB write from the
    /// loop device is one request.</summary>
    public const int MaxWrite = 1 << 20;

    /// <summary>A reader's buffer: the largest write plus its headers, with room to spare.</summary>
    public const int RequestBufferSize = MaxWrite + 4096;

    /// <summary>Asynchronous direct I/O from the loop device is "background" work in FUSE,
    /// which by default allows 12 requests in flight; the loop device queues up to 128.</summary>
    private const ushort MaxBackground = 128;

    private const ushort CongestionThreshold = 96;

    /// <summary>
    /// What Formation asks for. Every request reaches the engine before the kernel completes it
    /// and nothing is cached by FUSE: FUSE_WRITEBACK_CACHE is never taken (a dirty page held by
    /// FUSE would be acknowledged to the loop device before the engine has it, and a flush would
    /// then depend on the kernel writing it back first) and every open gets FOPEN_DIRECT_IO (see
    /// <see cref="VolumeFileSystem"/>). So the engine's durability is the only durability: the
    /// loop device turns a flush from the file system above into FSYNC, and FSYNC waits for the
    /// group commit. FUSE_ASYNC_DIO lets the loop device's direct I/O keep many requests in
    /// flight; FUSE_ASYNC_READ lets reads run in parallel.
    /// </summary>
    private const FuseInitFlags Wanted =
        FuseInitFlags.AsyncRead | FuseInitFlags.BigWrites | FuseInitFlags.AsyncDio | FuseInitFlags.MaxPages | FuseInitFlags.InitExt;

    /// <summary>The reply to the kernel's INIT and the terms the session then runs on; null
    /// terms when the kernel speaks a newer major version and will ask again.</summary>
    public static (InitOut Reply, FuseTerms? Terms) Negotiate(in InitIn request)
    {
        if (request.Major > FuseProtocol.KernelVersion)
        {
            // The protocol's rule: answer with our major only; the kernel sends INIT again.
            return (new InitOut { Major = FuseProtocol.KernelVersion, Minor = FuseProtocol.ProtocolMinor }, null);
        }
        if (request.Major < FuseProtocol.KernelVersion || request.Minor < FuseProtocol.MinimumMinor)
        {
            throw new FuseProtocolException(
                $"the kernel speaks FUSE {request.Major}.{request.Minor}; Formation needs {FuseProtocol.KernelVersion}.{FuseProtocol.MinimumMinor} or newer");
        }
        var offered = (FuseInitFlags)request.Flags;
        if (offered.HasFlag(FuseInitFlags.InitExt))
        {
            offered |= (FuseInitFlags)((ulong)request.Flags2 << 32);
        }
        var accepted = offered & Wanted;
        var reply = new InitOut
        {
            Major = FuseProtocol.KernelVersion,
            Minor = Math.Min(request.Minor, FuseProtocol.ProtocolMinor),
            MaxReadahead = request.MaxReadahead,
            Flags = (uint)accepted,
            Flags2 = (uint)((ulong)accepted >> 32),
            MaxBackground = MaxBackground,
            CongestionThreshold = CongestionThreshold,
            MaxWrite = MaxWrite,
            TimeGranularity = 1,
            MaxPages = MaxWrite / 4096,
        };
        var resends = offered.HasFlag(FuseInitFlags.HasResend) && request.Minor >= FuseProtocol.ResendMinor;
        return (reply, new FuseTerms(reply.Minor, resends));
    }
}

/// <summary>The kernel and Formation cannot agree on the protocol.</summary>
public sealed class FuseProtocolException(string message) : IOException(message);
