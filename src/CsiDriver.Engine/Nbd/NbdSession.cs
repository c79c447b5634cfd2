namespace CsiDriver.Engine.Nbd;

/// <summary>What the handshake settled for one connection; fixed for the transmission phase.</summary>
internal sealed record NbdSession(
    string ExportName, IBlockDevice Device, long Size, bool IsReadOnly, bool StructuredReplies, NbdTransmissionFlags Flags)
{
    public static NbdSession Create(string exportName, IBlockDevice device, bool structuredReplies)
    {
        var readOnly = device.IsReadOnly;
        return new NbdSession(exportName, device, device.Size, readOnly, structuredReplies, FlagsFor(readOnly, structuredReplies));
    }

    /// <summary>
    /// Every export shares one engine state whatever the connection, so FLUSH and FUA on one
    /// connection cover writes acknowledged on any other: CAN_MULTI_CONN holds. Read-only exports
    /// offer nothing that writes or flushes.
    /// </summary>
    public static NbdTransmissionFlags FlagsFor(bool readOnly, bool structuredReplies)
    {
        var flags = NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.CanMultiConnection;
        flags |= readOnly
            ? NbdTransmissionFlags.ReadOnly
            : NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua
              | NbdTransmissionFlags.SendTrim | NbdTransmissionFlags.SendWriteZeroes;
        if (structuredReplies)
        {
            // Reads are always answered with a single data chunk, so "do not fragment" holds.
            flags |= NbdTransmissionFlags.SendDoNotFragment;
        }
        return flags;
    }
}
